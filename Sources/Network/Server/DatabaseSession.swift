import EventLog
import Foundation
import Logging
import PostgresClient

/// A database session owned by one thread, opened on first use and re-opened after a loss, with
/// every call bounded in time (`SessionOptions.bounded`).
///
/// `@unchecked Sendable`: it is handed to the thread that owns it when that thread starts, and used
/// by that thread alone from then on (a libpq connection must not be shared between threads).
final class DatabaseSession: @unchecked Sendable {
    let conninfo: String
    let options: SessionOptions
    let logger: Logger
    /// Told of every connection opened, to notice a new primary (nil: not watched).
    let watch: FailoverWatch?
    private var store: EventStore?
    private var retryAfter = Date.distantPast
    private var backoff = 0.1

    init(conninfo: String, timeout: Double, logger: Logger, watch: FailoverWatch? = nil) {
        self.watch = watch
        self.conninfo = conninfo
        self.options = .bounded(timeout)
        self.logger = logger
    }

    /// Runs `body` with the session. A lost or timed-out session is dropped and `Unavailable` thrown
    /// (the next call opens a new one, after a backoff while the database stays unreachable); so is a
    /// call the server ended by its statement or lock timeout.
    func with<T>(_ body: (EventStore) throws -> T) throws -> T {
        if store == nil {
            guard Date() >= retryAfter else { throw Unavailable() }
            do {
                store = EventStore(connection: try watch?.connect(conninfo, options: options) ?? Connection(conninfo, options: options))
                backoff = 0.1
                logger.info("database connection open")
            } catch let error as PostgresError {
                retryAfter = Date().addingTimeInterval(backoff)
                backoff = min(backoff * 2, 5)
                logger.warning("database unreachable", metadata: ["error": "\(error.message)"])
                throw Unavailable()
            }
        }
        do {
            return try body(store!)
        } catch let error as PostgresError where error.isConnectionProblem {
            logger.warning("database connection lost", metadata: ["error": "\(error.message)"])
            store = nil
            throw Unavailable()
        } catch let error as PostgresError where error.isTimeout {
            logger.warning("database call timed out", metadata: ["sqlstate": "\(error.sqlState ?? "-")"])
            throw Unavailable()
        }
    }

    func close() {
        store = nil
    }

    /// The database could not be reached, or did not answer in time: nothing was done (or, for a
    /// COMMIT cut off in flight, nothing is known; a retry with the same key finds out).
    struct Unavailable: Error {}
}
