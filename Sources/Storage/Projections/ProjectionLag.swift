import Foundation
import PostgresClient

/// How far the projection trails the log, asked of PostgreSQL on one session of its own (opened when
/// needed, closed after an error so the next question starts afresh). For the daemon's health probe.
///
/// `@unchecked Sendable`: used from one thread at a time (the probe's).
public final class ProjectionLag: @unchecked Sendable {
    private let conninfo: String
    private let timeout: Double
    private var connection: Connection?

    public init(conninfo: String, timeout: Double) {
        self.conninfo = conninfo
        self.timeout = timeout
    }

    /// Events the projection has not folded yet, and the age in seconds of the first of them (0: caught up).
    public func read() throws -> (events: Int64?, seconds: Double?) {
        do {
            if connection == nil { connection = try Connection(conninfo, options: .bounded(timeout)) }
            // The checkpoint names the last position projected; the next event's age is how stale the
            // views are (none: caught up).
            let row = try connection!.execute(
                """
                SELECT (SELECT coalesce(max(position), 0) FROM consult.events) - c.position AS lag_events,
                       coalesce((SELECT extract(epoch FROM clock_timestamp() - e.recorded_at)::float8
                                   FROM consult.events e WHERE e.position = c.position + 1), 0) AS lag_seconds
                  FROM consult.projection_checkpoint c WHERE c.name = 'metrics'
                """
            ).first
            return (try row?.get("lag_events"), try row?.get("lag_seconds"))
        } catch {
            close()
            throw error
        }
    }

    public func close() {
        connection?.close()
        connection = nil
    }
}
