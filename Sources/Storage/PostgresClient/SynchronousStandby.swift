import Foundation

/// Synchronous replication as the primary sees it, for what must survive a failover.
///
/// A transaction whose wait for the synchronous standby is cancelled (a call timeout that closes the
/// session, a terminated backend), and a local commit after a crash and restart, are visible on the
/// primary without being on the standby: if the standby is then promoted, they are gone. Whatever is
/// signed (a checkpoint, hence a receipt) must therefore cover only what a synchronous standby has
/// flushed. WAL is one sequence: a standby that flushed up to LSN L holds every transaction that
/// committed before L, so "everything visible now is confirmed" is "the standbys flushed
/// `pg_current_wal_flush_lsn()` as read now": with synchronous_commit on, a commit is flushed here
/// before it becomes visible, and the walsender sends exactly up to this flush position, so the
/// standby can reach it (the insert position can lie past a page header no record fills yet).
///
/// Which standbys count: every one `pg_stat_replication` lists as `sync` or `quorum` must have flushed
/// it (the least of their `flush_lsn`), so whichever of them the failover engine promotes extends
/// what was signed. Reading `flush_lsn` needs `pg_read_all_stats` (or `pg_monitor`) for a role that
/// is not a superuser (deploy/roles.sql); without it the column reads NULL and nothing is confirmed.
public enum SynchronousStandby {
    /// What the primary says about its synchronous standbys.
    public struct Status: Sendable, Equatable {
        /// `synchronous_standby_names` ("" when commits wait for no standby).
        public let names: String
        /// Standbys streaming as `sync` or `quorum`.
        public let synchronous: Int
        /// Of those, how many show their `flush_lsn` to this role (fewer: a missing privilege).
        public let visible: Int
        /// Whether this server is in recovery (a standby itself).
        public let inRecovery: Bool

        /// Commits wait for a standby, and one is there.
        public var isSynchronous: Bool { !names.isEmpty && synchronous > 0 }

        /// Why this database cannot promise that a failover keeps what was committed, or nil.
        public var problem: String? {
            if inRecovery { return "the database is a standby (in recovery), not the primary" }
            if names.isEmpty { return "synchronous_standby_names is empty: commits wait for no standby, and a failover can lose acknowledged events" }
            if synchronous == 0 { return "synchronous_standby_names is '\(names)' but no standby streams as sync or quorum in pg_stat_replication" }
            if visible < synchronous {
                return "this role cannot read pg_stat_replication.flush_lsn: grant it pg_monitor (deploy/roles.sql), or nothing will be signed"
            }
            return nil
        }
    }

    public static func status(_ connection: Connection) throws -> Status {
        let row = try connection.execute(
            """
            SELECT current_setting('synchronous_standby_names') AS names, pg_is_in_recovery() AS recovery,
                   (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')) AS synchronous,
                   (SELECT count(flush_lsn) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')) AS visible
            """
        ).first!
        return Status(
            names: try row.get("names"), synchronous: Int(try row.get("synchronous", as: Int64.self)),
            visible: Int(try row.get("visible", as: Int64.self)), inRecovery: try row.get("recovery"))
    }

    /// Waits (at most `timeout` seconds) until every transaction committed before the call is flushed
    /// by every synchronous standby; returns whether it is. With `synchronous_standby_names` empty
    /// the database promises nothing beyond itself: true unless `required` (consultd warned at start).
    ///
    /// No notification exists for a standby's progress: this polls `pg_stat_replication` every 10 ms.
    /// Under synchronous replication each commit already waited for the standby, so the first look
    /// normally answers.
    public static func waitUntilConfirmed(_ connection: Connection, required: Bool, timeout: Double) throws -> Bool {
        let row = try connection.execute(
            "SELECT current_setting('synchronous_standby_names') AS names, pg_current_wal_flush_lsn()::text AS lsn").first!
        let names: String = try row.get("names")
        if names.isEmpty { return !required }
        let target: String = try row.get("lsn")
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let flushed = try connection.execute(
                """
                SELECT coalesce(bool_and(flush_lsn IS NOT NULL AND flush_lsn >= $1::pg_lsn), false) AS confirmed
                  FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')
                """, [target]
            ).first!.get("confirmed", as: Bool.self)
            if flushed { return true }
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)  // polling: no signal exists for a standby's flush
        }
    }

    /// Who this server is: its system identifier, its current timeline (which a promotion changes)
    /// and when its postmaster started (which a restart changes). A session that reconnects and finds
    /// another identity is talking to another primary than before: whatever was derived from the old
    /// one (the registry, a follower's position) may be ahead of it and must be rebuilt.
    public static func identity(_ connection: Connection) throws -> String {
        let row = try connection.execute(
            """
            SELECT (SELECT system_identifier FROM pg_control_system())::text AS system,
                   CASE WHEN pg_is_in_recovery() THEN 'recovery'
                        ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline,
                   pg_postmaster_start_time()::text AS started
            """
        ).first!
        let system: String = try row.get("system")
        let timeline: String = try row.get("timeline")
        let started: String = try row.get("started")
        return "\(system)/\(timeline)/\(started)"
    }
}
