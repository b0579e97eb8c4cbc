import Domain
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// deploy/README.md's backup and restore, as written: dumps of a live database under load (the log
/// and the keys apart), restored into a new cluster, checked by `consultctl verify`.
final class BackupTests: XCTestCase {
    func testBackupUnderLoadRestoresIntoANewClusterWithEveryAcknowledgedSubmission() throws {
        let consultctl = try TestDatabase.executable("consultctl")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-backup-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        XCTAssertEqual(try TestDatabase.run(consultctl, ["keys", "generate", "--out", work.path]).status, 0)
        let signingKey = work.appendingPathComponent("consultd-signing.key").path
        let publicKey = work.appendingPathComponent("consultd-signing.pub").path
        let fixture = try Fixture(daemonArguments: ["--signing-key", signingKey, "--checkpoint-interval", "0.2"])
        let source = String(fixture.conninfo.dropFirst("dbname=".count))

        // Load: four clients, each submitting one key at a time (so each reply is known to be its key's).
        struct Load {
            var acknowledged: [String: String] = [:]
            var stop = false
        }
        let load = Locked(Load())
        let reached = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        for client in 0..<4 {
            let connection = try fixture.client(as: client % 2 == 0 ? "org-a" : "org-b")
            let organisation = client % 2 == 0 ? "org-a" : "org-b"
            finished.enter()
            Thread {
                defer { finished.leave() }
                var index = 0
                while !load.current.stop {
                    let key = "bk-\(client)-\(index)"
                    index += 1
                    guard let reply = try? connection.request("SUBMIT c1 \(key) \(Fixture.body)") else { return }
                    let count = load.withLock { state -> Int in
                        if reply.hasPrefix("OK SUBMIT") { state.acknowledged["\(organisation)/\(key)"] = reply }
                        return state.acknowledged.count
                    }
                    if count == 400 { reached.signal() }
                }
            }.start()
        }
        XCTAssertEqual(reached.wait(timeout: .now() + 60), .success)

        // The documented dumps, while the load goes on. What was acknowledged before they start must be in them.
        let acknowledgedBeforeDump = load.current.acknowledged
        let logDump = work.appendingPathComponent("consult-log.dump").path
        let keyDump = work.appendingPathComponent("consult-keys.dump").path
        let pgDump = "/usr/bin/pg_dump"
        let dumpLog = try TestDatabase.run(pgDump, [
            "--format=custom", "--exclude-table-data=consult.content_keys", "--exclude-table-data=consult.organisation_keys",
            "--file=\(logDump)", source,
        ])
        XCTAssertEqual(dumpLog.status, 0, dumpLog.stderr)
        let dumpKeys = try TestDatabase.run(pgDump, [
            "--format=custom", "--data-only", "--table=consult.content_keys", "--table=consult.organisation_keys", "--file=\(keyDump)", source,
        ])
        XCTAssertEqual(dumpKeys.status, 0, dumpKeys.stderr)
        let acknowledgedDuringDump = load.current.acknowledged.count - acknowledgedBeforeDump.count
        load.withLock { $0.stop = true }
        finished.wait()
        XCTAssertGreaterThan(acknowledgedDuringDump, 0, "submissions flowed while pg_dump ran")

        // A new cluster, and the documented restore: roles first, then the log, the keys, the replay
        // of erasures, verification, the views.
        let cluster = try ThrowawayCluster()
        defer { cluster.stop() }
        let env = cluster.environment
        let roles = try TestDatabase.run(
            cluster.program("psql"), ["-v", "ON_ERROR_STOP=1", "-q", "-f", TestDatabase.repositoryRoot.appendingPathComponent("deploy/roles.sql").path],
            environment: env)
        XCTAssertEqual(roles.status, 0, roles.stderr)
        let restoreLog = try TestDatabase.run(cluster.program("pg_restore"), ["--dbname=consult", logDump], environment: env)
        XCTAssertEqual(restoreLog.status, 0, restoreLog.stderr)
        let restoreKeys = try TestDatabase.run(cluster.program("pg_restore"), ["--data-only", "--dbname=consult", keyDump], environment: env)
        XCTAssertEqual(restoreKeys.status, 0, restoreKeys.stderr)
        let restored = cluster.conninfo("consult")
        let replay = try TestDatabase.run(consultctl, ["erase", "--replay", "--database", restored])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let verify = try TestDatabase.run(consultctl, ["verify", "--database", restored, "--public-key", publicKey])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertFalse(verify.stdout.contains("FAIL"), verify.stdout)
        XCTAssertTrue(verify.stdout.contains("checkpoint"), verify.stdout)
        let rebuild = try TestDatabase.run(consultctl, ["projections", "rebuild", "--database", restored])
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)

        // Every acknowledged key is there, at the position its acknowledgement named.
        let connection = try Connection(restored)
        var positions: [String: Int64] = [:]
        for row in try connection.execute(
            "SELECT data->>'organisation' || '/' || (data->>'key') AS k, position FROM consult.events WHERE type = $1",
            [EventType.submissionReceived]
        ).rows {
            positions[try row.get("k")] = try row.get("position")
        }
        XCTAssertGreaterThanOrEqual(acknowledgedBeforeDump.count, 400)
        for (key, reply) in acknowledgedBeforeDump {
            let bare = key.split(separator: "/").last!
            XCTAssertEqual(reply, "OK SUBMIT \(bare) \(positions[key] ?? -1)", "\(key) restored at its position")
        }

        // The keys came back with the log: a daemon on the restored database opens the content.
        let daemon = try Daemon(conninfo: restored, arguments: [])
        let client = try LineClient(port: daemon.port)
        let (sample, _) = acknowledgedBeforeDump.first { $0.key.hasPrefix("org-a/") }!
        XCTAssertEqual(try client.request("AUTH org-a \(fixture.tokens["org-a"]!)"), "OK AUTH org-a")
        let status = try client.request("STATUS c1 \(sample.split(separator: "/").last!)")
        XCTAssertTrue(status.hasPrefix("OK STATUS"), status)
        // "kept": its content key was restored and opens under the master key ("erased" otherwise).
        XCTAssertTrue(status.contains(#""content":"kept""#), status)
        let keys: Int = try connection.execute("SELECT count(*) AS n FROM consult.content_keys").first!.get("n")
        XCTAssertGreaterThanOrEqual(keys, acknowledgedBeforeDump.count, "one content key per submission dumped")
    }
}
