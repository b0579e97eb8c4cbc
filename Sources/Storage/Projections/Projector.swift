import Domain
import EventLog
import Foundation
import Logging
import Participation
import PostgresClient

/// Keeps the projection tables (`consult.metric_values`, `audit_results`, `participation`) up to date
/// from the log, with the same fold and metric code that `consultctl query --as-of` uses.
///
/// - Exactly one projector writes at a time: each daemon tries for a session advisory lock and the
///   holder projects; when it dies its session ends, the lock is released, and a standby takes over.
/// - Each write replaces the rows of the consultations the new events touched *and* moves the
///   checkpoint, in one transaction: a crash leaves the previous consistent state.
/// - Each write also stores the fold's state of those consultations (`consult.fold_state`), so the
///   projector resumes from the checkpoint when it starts or finds the checkpoint moved by someone
///   else (`consultctl projections rebuild`); it folds from position 0 only without a snapshot.
/// - It holds no submission between reads (`LogReader.foldBounded`): its memory is bounded by the
///   numbers of consultations and organisations, not by the log.
public final class Projector: Sendable {
    /// Held (session level) by the daemon that projects.
    static let leaderLockKey: Int64 = 0x636F_6E73_7072_6F6A
    /// Taken (transaction level) by every write of the projection tables, projector and rebuild alike.
    public static let writeLockKey: Int64 = 0x636F_6E73_7772_6974
    /// Notified with the new checkpoint after each write.
    public static let channel = "consult_projection"
    /// Events folded before a write when behind: large enough that catching up writes seldom.
    static let page = 50_000

    let conninfo: String
    let policy: Policy
    let logger: Logger
    let standbyRetry: Double
    /// The shortest time between two writes of the projection tables (how stale they may be under load).
    let writeInterval: Double

    /// Seconds the leader's liveness check may take.
    let timeout: Double

    public init(
        conninfo: String, policy: Policy, logger: Logger, standbyRetry: Double = 1, writeInterval: Double = 0.25,
        timeout: Double = 5
    ) {
        self.conninfo = conninfo
        self.timeout = timeout
        self.policy = policy
        self.logger = logger
        self.standbyRetry = standbyRetry
        self.writeInterval = writeInterval
    }

    struct Resync: Error {}

    /// Projects until `shouldStop` says so (checked at least every second).
    public func run(shouldStop: () -> Bool) {
        var backoff = 0.2
        while !shouldStop() {
            do {
                // A session that holds the leader lock must never be replaced silently: a new session
                // would not hold it, and two daemons would project at once. Its loss ends leadership.
                guard let leader = try Leadership.acquire(
                    conninfo, key: Self.leaderLockKey, timeout: timeout, retry: standbyRetry, shouldStop: shouldStop,
                    standby: { logger.info("projection standby: another consultd projects") })
                else { return }
                logger.info("projecting: this consultd holds the projection lock")
                try project(leader: leader, shouldStop: shouldStop)
                backoff = 0.2
            } catch let error as PostgresError where error.isConnectionProblem {
                logger.warning("projection leadership lost (its database session ended); trying to take it again",
                               metadata: ["error": "\(error.message)"])
                Thread.sleep(forTimeInterval: backoff)  // backoff before reconnecting, not a synchronisation
                backoff = min(backoff * 2, 5)
            } catch {
                logger.warning("projection interrupted; retrying", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: backoff)
                backoff = min(backoff * 2, 5)
            }
        }
    }

    private func project(leader: Connection, shouldStop: () -> Bool) throws {
        // Never re-opened silently: behind a multi-host URL a new session may be on a promoted standby
        // that lacks the tail this fold holds; losing it ends this leadership, and the next resumes
        // from the snapshot stored on whichever server it finds.
        let store = EventStore(connection: try Connection(conninfo, options: .bounded(max(timeout, 60), reconnects: false)))
        try store.connection.listen(EventStore.channel)
        var fold = try Self.resume(store.connection) ?? LogFold()
        var written: Int64? = fold.position > 0 ? fold.position : nil  // nil: a full rewrite is due
        if let written { logger.info("projection resumed from its snapshot", metadata: ["position": "\(written)"]) }
        var touched = Set<String>()
        var lastWrite = Date.distantPast
        while !shouldStop() {
            // Losing the leader session loses the lock: this throws, and writing stops at once.
            try leader.execute("SELECT 1")
            let read = try LogReader.foldBounded(store.connection, into: &fold, limit: Self.page) { touched.insert($0) }
            if read == 0 && written == fold.position {
                _ = try store.connection.waitForNotifications(timeout: 1)
                continue
            }
            if read == Self.page { continue }  // catch up further before writing
            // Under a steady load every commit notifies: write at most every `writeInterval`, folding
            // what arrives meanwhile, so the projection's own commits (each one an fsync) do not
            // compete with ingestion hundreds of times a second.
            let due = lastWrite.addingTimeInterval(writeInterval)
            if due.timeIntervalSinceNow > 0 {
                try store.connection.skipNotifications(until: due, shouldStop: shouldStop)
                continue
            }
            do {
                try write(fold, consultations: written == nil ? nil : touched, expected: written, store.connection)
                written = fold.position
                lastWrite = Date()
                touched.removeAll()
            } catch is Resync {
                logger.info("projection checkpoint moved (rebuilt?): resuming from the new one")
                fold = try Self.resume(store.connection) ?? LogFold()
                written = fold.position > 0 ? fold.position : nil
                touched.removeAll()
            }
        }
    }

    /// The fold as of the checkpoint, from its snapshot; nil when there is none to resume from.
    static func resume(_ connection: Connection) throws -> LogFold? {
        // The snapshot is only as good as its checkpoint: both are read in one snapshot of the database.
        try connection.transaction { connection in
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            let checkpoint = try connection.execute(
                "SELECT position, recorded_at, snapshot, snapshot_position FROM consult.projection_checkpoint WHERE name = 'metrics'"
            ).first!
            let position: Int64 = try checkpoint.get("position")
            // A checkpoint moved without its snapshot (by a consultd older than the snapshot) is not resumed from.
            guard position > 0, try checkpoint.optional("snapshot", as: Int.self) == LogFold.snapshotFormat,
                try checkpoint.optional("snapshot_position", as: Int64.self) == position,
                let time = try checkpoint.optional("recorded_at", as: Date.self)
            else { return nil }
            var states: [String: Data] = [:]
            for row in try connection.execute("SELECT consultation, state FROM consult.fold_state").rows {
                states[try row.get("consultation")] = Data(try row.get("state", as: String.self).utf8)
            }
            return try LogFold.restore(
                position: position, time: time, registryEvents: try LogReader.registryEvents(connection, through: position),
                states: states)
        }
    }

    /// Replaces the rows of `consultations` (all when nil) and moves the checkpoint, in one transaction.
    /// Throws `Resync` when the checkpoint is not where this projector left it.
    func write(_ fold: LogFold, consultations: Set<String>?, expected: Int64?, _ connection: Connection) throws {
        try connection.transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [Self.writeLockKey])
            let checkpoint: Int64 = try connection.execute(
                "SELECT position FROM consult.projection_checkpoint WHERE name = 'metrics' FOR UPDATE"
            ).first!.get("position")
            if let expected, checkpoint != expected { throw Resync() }
            try Self.replace(fold, consultations: consultations, policy: policy, connection)
        }
    }

    /// The shared write: used by the projector and by `consultctl projections rebuild`.
    public static func replace(_ fold: LogFold, consultations: Set<String>?, policy: Policy, _ connection: Connection) throws {
        let ids = (consultations.map(Array.init) ?? Array(fold.registry.consultations.keys)).sorted()
        let scope = consultations == nil ? "" : " WHERE consultation = ANY($1::text[])"
        let scopeParameters: [PostgresEncodable?] = consultations == nil ? [] : [TextArray(ids)]
        for table in ["consult.metric_values", "consult.audit_results", "consult.participation"] {
            // Table names are fixed here, never input; the scope is a parameter.
            try connection.execute("DELETE FROM \(table)\(scope)", scopeParameters)
        }
        let metrics = ids.compactMap { ConsultationMetrics(consultation: $0, fold: fold, minRatio: policy.minRatio) }
        let rows = metrics.flatMap(\.rows)
        func number(_ value: Double?) -> String? { value.map { String($0) } }
        try connection.execute(
            """
            INSERT INTO consult.metric_values (consultation, metric, dimension, grp, value, position)
            SELECT c, m, d, g, v, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS u(c, m, d, g, v)
            """,
            [TextArray(rows.map(\.consultation)), TextArray(rows.map(\.metric)), TextArray(rows.map { $0.dimension ?? "" }),
             TextArray(rows.map { $0.group ?? "" }), TextArray(rows.map { number($0.value) }), fold.position])
        let audits = metrics.map {
            Audit(metrics: $0, consultation: fold.registry.consultations[$0.consultation]!, policy: policy, now: fold.time)
        }
        var criteria: [(String, String, Double?, String?, String, String?)] = []
        for audit in audits {
            for criterion in audit.criteria {
                criteria.append((audit.consultation, criterion.name, criterion.value, criterion.threshold, criterion.status.rawValue, criterion.reason))
            }
            criteria.append((audit.consultation, "verdict", nil, nil, audit.verdict, nil))
        }
        try connection.execute(
            """
            INSERT INTO consult.audit_results (consultation, criterion, value, threshold, status, reason, position)
            SELECT c, k, v, t, s, r, $7 FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[]) AS u(c, k, v, t, s, r)
            """,
            [TextArray(criteria.map(\.0)), TextArray(criteria.map(\.1)), TextArray(criteria.map { number($0.2) }),
             TextArray(criteria.map(\.3)), TextArray(criteria.map(\.4)), TextArray(criteria.map(\.5)), fold.position])
        let participation = fold.participation(of: ids)
        try connection.execute(
            """
            INSERT INTO consult.participation (consultation, organisation, submissions, withdrawn, with_feedback, cited, position)
            SELECT c, o, s, w, f, k, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(c, o, s, w, f, k)
            """,
            [TextArray(participation.map(\.consultation)), TextArray(participation.map(\.organisation)),
             TextArray(participation.map { String($0.submissions) }), TextArray(participation.map { String($0.withdrawn) }),
             TextArray(participation.map { String($0.withFeedback) }), TextArray(participation.map { String($0.cited) }),
             fold.position])
        // The fold's state of the same consultations (of every one it holds on a full rewrite).
        let kept = consultations ?? fold.consultationsWithState
        try connection.execute("DELETE FROM consult.fold_state" + (consultations == nil ? "" : " WHERE consultation = ANY($1::text[])"),
                               consultations == nil ? [] : [TextArray(kept.sorted())])
        let states = try kept.sorted().compactMap { id in try fold.consultationState(id).map { (id, $0) } }
        try connection.execute(
            "INSERT INTO consult.fold_state (consultation, state) SELECT * FROM unnest($1::text[], $2::text[])",
            [TextArray(states.map(\.0)), TextArray(states.map { String(decoding: $0.1, as: UTF8.self) })])
        try connection.execute(
            """
            UPDATE consult.projection_checkpoint SET position = $1, recorded_at = $2, snapshot = $3, snapshot_position = $1
             WHERE name = 'metrics'
            """,
            [fold.position, fold.time, LogFold.snapshotFormat])
        try connection.execute("SELECT pg_notify($1, $2)", [channel, String(fold.position)])
    }
}
