import EventRecords
import Foundation
import PostgresClient

/// Follows the log from a position: catches up in batches, then sleeps until PostgreSQL notifies a
/// commit on `consult_log` (with a periodic re-read as a safety net, never as the only wake-up).
///
/// It never skips an event: it always asks for "position > last handled", and the log guarantees
/// that positions become visible in order (see `EventStore`). A lost connection is re-opened and
/// the follower re-reads from where it was, so notifications missed meanwhile do not matter.
public final class LogFollower {
    private let conninfo: String
    private let batchSize: Int
    private let recheckInterval: Double
    /// The position of the last event handed to the handler.
    public private(set) var position: Int64

    public init(conninfo: String = "", from position: Int64 = 0, batchSize: Int = 1000, recheckInterval: Double = 5) {
        self.conninfo = conninfo
        self.position = position
        self.batchSize = batchSize
        self.recheckInterval = recheckInterval
    }

    /// Calls `handle` with each batch, in order, until `shouldStop` returns true (checked between
    /// batches and at least every `stopCheckInterval` seconds while idle). If `handle` throws, the
    /// follower stops and rethrows: the batch counts as not handled. `onError` hears of connection
    /// trouble, which the follower rides out by reconnecting.
    public func run(
        stopCheckInterval: Double = 0.2,
        shouldStop: () -> Bool,
        onError: (PostgresError) -> Void = { _ in },
        handle: ([RecordedEvent]) throws -> Void
    ) throws {
        var store: EventStore?
        var lastRead = Date.distantPast
        var caughtUp = false
        var backoff = 0.1
        while !shouldStop() {
            do {
                if store == nil {
                    let connection = try Connection(conninfo)
                    try connection.listen(EventStore.channel)
                    store = EventStore(connection: connection)
                    caughtUp = false  // anything may have been appended while we were away
                }
                guard let store else { continue }
                if !caughtUp || Date().timeIntervalSince(lastRead) >= recheckInterval {
                    let events = try store.read(after: position, limit: batchSize)
                    lastRead = Date()
                    if !events.isEmpty {
                        try handle(events)
                        position = events.last!.position
                    }
                    caughtUp = events.count < batchSize
                    backoff = 0.1
                    continue
                }
                // Listening began before the catch-up read, so a commit after that read notifies us.
                if try !store.connection.waitForNotifications(timeout: stopCheckInterval).isEmpty {
                    caughtUp = false
                }
            } catch let error as PostgresError where error.isConnectionProblem {
                onError(error)
                store = nil
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }
}
