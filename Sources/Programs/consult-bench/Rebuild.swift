import Domain
import EventLog
import EventRecords
import Foundation
import Participation
import PostgresClient
import Projections

extension Bench {
    /// 4. Projection rebuild from 0 over a large log: one consultation with most of the events
    /// (loaded up to --rebuild-events first). Returns the log's head.
    func rebuild(_ run: BenchRun) throws -> Int64 {
        let connection = run.connection
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c-big"))))
        let existing = try run.store.headPosition()
        let toLoad = max(0, rebuildEvents - Int(existing))
        var started = Date()
        try Self.loadSubmissions(connection, keys: 1...max(1, toLoad), prefix: "b", when: toLoad > 0)
        FileHandle.standardError.write(Data("bench: loaded \(toLoad) events in \(Int(Date().timeIntervalSince(started))) s\n".utf8))
        // What autovacuum would do after a bulk load, done now rather than during the measurements below.
        try connection.execute("VACUUM (ANALYZE) consult.events")
        let head = try run.store.headPosition()
        started = Date()
        var fold = LogFold()
        let conninfo = run.conninfo
        try connection.transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [Projector.writeLockKey])
            try LogReader.fold(connection, and: try Connection(conninfo), into: &fold, through: head)
            try Projector.replace(fold, consultations: nil, policy: Policy(), connection)
        }
        run.report("rebuild_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")
        return head
    }

    /// 5. Queries on the big consultation: from the projection, and as of a middle position (the fold).
    func queries(_ run: BenchRun, head: Int64) throws {
        var started = Date()
        let rowsRead = try run.connection.execute("SELECT * FROM analytics.metrics WHERE consultation = 'c-big'").rows.count
        run.report("query_metrics_s", Date().timeIntervalSince(started), "s")
        precondition(rowsRead > 0)
        started = Date()
        var middle = LogFold()
        try LogReader.fold(run.connection, into: &middle, through: head / 2)
        _ = ConsultationMetrics(consultation: "c-big", fold: middle, minRatio: 0.5)
        run.report("as_of_fold_s", Date().timeIntervalSince(started), "s")
        run.report("as_of_fold_events", Double(head / 2), "events")
    }
}
