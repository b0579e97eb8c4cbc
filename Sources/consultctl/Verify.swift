import ArgumentParser
import Domain
import Foundation
import PostgresClient

/// `consultctl verify`: checks the log's integrity, e.g. after a restore.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the log: contiguous positions, contiguous stream versions, its guards in place.",
        discussion: "Prints one line per check; exits 1 if any fails (one line on stderr says which).")

    @OptionGroup var db: DatabaseOptions

    func run() {
        let connection = oneLine { try Connection(db.conninfo) }
        // Each check is one query answering (ok, detail).
        let checks: [(String, String)] = [
            ("positions run 1, 2, 3, … without a gap",
             """
             SELECT count(*) = coalesce(max(position), 0) AND coalesce(min(position), 1) = 1 AS ok,
                    count(*) || ' events, last position ' || coalesce(max(position), 0) AS detail
               FROM consult.events
             """),
            ("every stream's versions run 1, 2, 3, … without a gap",
             """
             SELECT count(*) = 0 AS ok, count(*) || ' streams out of step' AS detail
               FROM (SELECT stream FROM consult.events GROUP BY stream
                      HAVING count(*) <> max(version) OR min(version) <> 1) broken
             """),
            ("recorded_at never goes back more than a second as positions go forward",
             """
             SELECT count(*) = 0 AS ok, count(*) || ' events recorded earlier than the one before' AS detail
               FROM (SELECT recorded_at < lag(recorded_at) OVER (ORDER BY position) - interval '1 second' AS back
                       FROM consult.events) ordered WHERE back
             """),
            ("the log's triggers (numbering, order check, append-only) are in place and enabled",
             """
             SELECT count(*) = 5 AS ok, count(*) || ' of 5 enabled' AS detail
               FROM pg_trigger
              WHERE tgrelid = 'consult.events'::regclass AND tgenabled = 'O'
                AND tgname IN ('events_assign_position', 'events_check_positions', 'events_no_update', 'events_no_delete',
                               'events_no_truncate')
             """),
            ("consult_app may not update, delete or truncate the log",
             """
             SELECT NOT (has_table_privilege('consult_app', 'consult.events', 'UPDATE')
                      OR has_table_privilege('consult_app', 'consult.events', 'DELETE')
                      OR has_table_privilege('consult_app', 'consult.events', 'TRUNCATE')) AS ok,
                    'privileges of consult_app on consult.events' AS detail
             """),
            ("only consult_app may take the log's write lock",
             """
             SELECT NOT has_function_privilege('consult_analyst', 'consult.lock_log()', 'EXECUTE')
                    AND NOT has_table_privilege('consult_analyst', 'consult.log_lock', 'SELECT')
                    AND has_function_privilege('consult_app', 'consult.lock_log()', 'EXECUTE') AS ok,
                    'privileges on consult.lock_log() and consult.log_lock' AS detail
             """),
        ]
        var failed: [String] = []
        for (name, sql) in checks {
            let row = oneLine { try connection.execute(sql).first! }
            let ok = oneLine { try row.get("ok", as: Bool.self) }
            let detail: String = oneLine { try row.get("detail") }
            print("\(ok ? "ok  " : "FAIL") \(name) (\(detail))")
            if !ok { failed.append(name) }
        }
        // Every event has its type's shape: decoded with the one codec every reader uses.
        var decoded = 0
        var undecodable: (position: Int64, error: String)?
        oneLine {
            try connection.stream("SELECT position, type, recorded_at, data::text FROM consult.events ORDER BY position") { row in
                guard undecodable == nil else { return }
                do {
                    _ = try DomainEvent(type: try row.get(1), data: row.string(3) ?? "", recordedAt: try row.date(2)!)
                    decoded += 1
                } catch {
                    undecodable = (try row.int64(0)!, "\(error)")
                }
            }
        }
        let decodes = "every event decodes as its type"
        if let undecodable {
            print("FAIL \(decodes) (position \(undecodable.position): \(undecodable.error))")
            failed.append(decodes)
        } else {
            print("ok   \(decodes) (\(decoded) events)")
        }
        if !failed.isEmpty { fail("the log failed \(failed.count) check(s): \(failed.joined(separator: "; "))") }
    }
}
