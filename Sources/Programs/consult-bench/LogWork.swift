import ArgumentParser
import EventLog
import Foundation
import JSON
import PostgresClient
import Projections
import Trust

/// The benchmark's own work on the database: bulk loads of the log, the cluster's WAL counters,
/// and the waits for a daemon's projector and notary to catch up.
extension Bench {
    /// Events of the log not yet in the projection (the log's head less the checkpoint).
    static func projectionLag(_ connection: Connection) throws -> Int64 {
        try connection.execute(
            """
            SELECT coalesce((SELECT max(position) FROM consult.events), 0) - position AS lag
              FROM consult.projection_checkpoint WHERE name = 'metrics'
            """).first!.get("lag", as: Int64.self)
    }

    /// Appends one SubmissionReceived to c-big per key in `keys` (from o1…o64 in turn), in one
    /// statement. The rows come numbered (after the head) and timed, so the per-row numbering trigger
    /// is skipped (three times faster) while the statement's check still proves they continue the log;
    /// nothing else may append meanwhile (no daemon runs during the loads).
    static func loadSubmissions(_ connection: Connection, keys: ClosedRange<Int>, prefix: String, when: Bool = true) throws {
        guard when else { return }
        try connection.execute(
            """
            INSERT INTO consult.events (position, recorded_at, event_id, stream, version, type, data, metadata, idempotency_key)
            SELECT (SELECT coalesce(max(position), 0) FROM consult.events) + i - $2 + 1, clock_timestamp(), gen_random_uuid(),
                   'submission-o' || (i % 64 + 1) || '/c-big/' || $4 || i, 1, 'SubmissionReceived',
                   jsonb_build_object('organisation', 'o' || (i % 64 + 1), 'consultation', 'c-big', 'key', $4 || i,
                                      'submission', $1::jsonb),
                   '{}', 'submission-o' || (i % 64 + 1) || '/c-big/' || $4 || i
              FROM generate_series($2::int, $3::int) AS i
            """, [JSONText(body), keys.lowerBound, keys.upperBound, prefix])
    }

    /// Loads submissions for c-big until the log holds `total` events: one INSERT of at most a
    /// million rows per transaction (as the rebuild's load, keys of their own), then what autovacuum
    /// would do after it.
    static func loadStartupLog(_ connection: Connection, total: Int) throws {
        let existing = Int(try EventStore(connection: connection).headPosition())
        let toLoad = max(0, total - existing)
        let started = Date()
        var loaded = 0
        while loaded < toLoad {
            let chunk = min(1_000_000, toLoad - loaded)
            try loadSubmissions(connection, keys: (loaded + 1)...(loaded + chunk), prefix: "s")
            loaded += chunk
            FileHandle.standardError.write(Data("bench: start-up log: \(existing + loaded) events (\(Int(Date().timeIntervalSince(started))) s)\n".utf8))
        }
        try connection.execute("VACUUM (ANALYZE) consult.events")
        FileHandle.standardError.write(Data("bench: start-up log: loaded \(toLoad) events and vacuumed in \(Int(Date().timeIntervalSince(started))) s\n".utf8))
    }

    /// The cluster's WAL written so far in bytes, and its checkpoints.
    static func walCounters(_ connection: Connection) throws -> (bytes: Int64, checkpoints: Int64) {
        let row = try connection.execute(
            "SELECT (pg_current_wal_lsn() - '0/0')::bigint AS bytes, checkpoints_timed + checkpoints_req AS checkpoints FROM pg_stat_bgwriter").first!
        return (try row.get("bytes", as: Int64.self), try row.get("checkpoints", as: Int64.self))
    }

    /// The WAL written since `before`, per submission of the `submissions` sent meanwhile, and the checkpoints.
    static func walPerSubmission(
        _ connection: Connection, since before: (bytes: Int64, checkpoints: Int64), submissions: Double
    ) throws -> (bytes: Double, checkpoints: Int64) {
        let now = try walCounters(connection)
        return (Double(now.bytes - before.bytes) / submissions, now.checkpoints - before.checkpoints)
    }

    /// Returns once the Merkle tree covers `head` (polled: the notary does not notify).
    static func waitForTree(_ connection: Connection, head: Int64) throws {
        let deadline = Date().addingTimeInterval(600)
        while try TreeStore(connection: connection).size() < head {
            guard Date() < deadline else { throw ValidationError("the tree did not reach position \(head)") }
            Thread.sleep(forTimeInterval: 0.1)  // a bench's wait for another process's progress
        }
    }

    /// Returns once the projection checkpoint reached `head`, woken by the projector's notifications.
    static func waitForProjection(_ conninfo: String, head: Int64, timeout: Double = 600) throws {
        let listener = try Connection(conninfo)
        try listener.listen(Projector.channel)
        let deadline = Date().addingTimeInterval(timeout)
        while try listener.execute("SELECT position FROM consult.projection_checkpoint WHERE name = 'metrics'").first!
            .get("position", as: Int64.self) < head
        {
            guard Date() < deadline else { throw ValidationError("the projection did not reach position \(head)") }
            _ = try listener.waitForNotifications(timeout: 1)
        }
    }
}
