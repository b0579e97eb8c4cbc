import Domain
import EventLog
import EventRecords
import Foundation
import Migrations
import PostgresClient
import TestSupport
import XCTest

/// consultd across a failover of its database: a primary with a synchronous standby, consultd on the
/// multi-host URL, pipelined load from four connections. Under `scripts/with-ha-postgres` the cluster
/// is Patroni's (it promotes the standby and rewinds the old primary; CI runs it so); elsewhere a
/// hand-made pair (`SynchronousPair`) where the test plays the engine. The primary is lost (round 1:
/// SIGKILL; round 2: frozen with SIGSTOP), the standby promoted, the old primary rejoined as the new
/// one's synchronous standby. Nothing acknowledged is lost or moved, nothing signed forks, every
/// request is answered OK or BUSY within the timeout, analysts can work on the standby.
final class FailoverTests: XCTestCase {
    let timeout = 2.0
    let margin = 0.5

    func testFailoverKeepsEveryAcknowledgementAndSignature() throws {
        let cluster = try makeFailoverCluster()
        defer { cluster.stop() }
        let database = "consult_failover_\(UInt32.random(in: 0...UInt32.max))"  // digits: safe in CREATE DATABASE
        try Connection(cluster.primaryURL("postgres")).executeScript("CREATE DATABASE \(database)")
        try Migrator(directory: TestDatabase.schemaDirectory).migrate(try Connection(cluster.primaryURL(database)))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("failover-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let consultctl = try TestDatabase.executable("consultctl")
        XCTAssertEqual(try TestDatabase.run(consultctl, ["keys", "generate", "--out", folder.path]).status, 0)
        let key = folder.appendingPathComponent("consultd-signing.key").path
        let publicKey = folder.appendingPathComponent("consultd-signing.pub").path
        let fixture = try Fixture(
            database: cluster.primaryURL(database),
            daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2", "--database-timeout", String(timeout)])
        XCTAssertTrue(fixture.daemon.waitForLog("synchronous standby confirmed"), fixture.daemon.log)

        var acknowledged: [String: String] = [:]  // organisation/key → position, over both rounds
        var receipts: [String] = []
        for (round, signal) in [(1, SIGKILL), (2, SIGSTOP)] {
            let pipelines = try (0..<4).map { index -> AvailabilityTests.Pipeline in
                AvailabilityTests.Pipeline(try fixture.client(as: index % 2 == 0 ? "org-a" : "org-b"))
            }
            let stop = Locked(false)
            let senders = DispatchGroup()
            for (index, pipeline) in pipelines.enumerated() {
                senders.enter()
                Thread {
                    var n = 0
                    while !stop.current {
                        let lines = (0..<5).map { "SUBMIT c1 r\(round)-c\(index)-\(n + $0) \(Fixture.body)" }
                        n += lines.count
                        guard (try? pipeline.send(lines)) != nil else { break }
                        Thread.sleep(forTimeInterval: 0.02)  // paces the load; synchronises nothing
                    }
                    senders.leave()
                }.start()
            }
            func oks(after time: Date = .distantPast) -> Int {
                pipelines.map { $0.replies.current.filter { $0.line.hasPrefix("OK") && $0.at > time }.count }.reduce(0, +)
            }
            func waitFor(_ count: Int, after time: Date = .distantPast, within seconds: Double) -> Bool {
                let deadline = Date().addingTimeInterval(seconds)
                while Date() < deadline {
                    if oks(after: time) >= count { return true }
                    Thread.sleep(forTimeInterval: 0.05)  // polling the replies collected by the reader threads
                }
                return false
            }
            XCTAssertTrue(
                waitFor(100, within: 30),
                "round \(round): load acknowledged before the failover: \(pipelines[0].replies.current.suffix(2).map(\.line)) \(fixture.daemon.log.suffix(3_000))")
            // A receipt (and so a signed checkpoint) from before the failover, kept as an organisation would.
            let receiptClient = try fixture.client(as: "org-a")
            let receiptKey = "before-\(round)"
            let submitted = try receiptClient.request("SUBMIT c1 \(receiptKey) \(Fixture.body)")
            XCTAssertTrue(submitted.hasPrefix("OK SUBMIT"), submitted)
            guard submitted.hasPrefix("OK SUBMIT") else { return }
            receipts.append(try receiptClient.receiptFile(for: receiptKey, in: folder))
            if round == 2 {
                // Analysts on the standby (the old primary of round 1) while the primary takes writes.
                let standby = cluster.standbyURL(database)
                let verified = try TestDatabase.run(consultctl, ["verify", "--database", standby, "--public-key", publicKey])
                XCTAssertEqual(verified.status, 0, "verify on the standby: \(verified.stderr)")
                let metrics = try TestDatabase.run(consultctl, ["query", "metrics", "--database", standby, "--consultation", "c1", "--format", "json"])
                XCTAssertEqual(metrics.status, 0, "query on the standby: \(metrics.stderr)")
                XCTAssertTrue(metrics.stdout.contains("\"submissions\""), metrics.stdout)
                let report = try TestDatabase.run(
                    consultctl, ["report", "--database", standby, "--consultation", "c1", "--format", "json", "--out", folder.path])
                XCTAssertEqual(report.status, 0, "report on the standby: \(report.stderr)")
                // The analytics views, as a dashboard reads them, on the standby.
                let views = try Connection(standby)
                defer { views.close() }
                let consultations: Int64 = try views.execute("SELECT count(*) AS n FROM analytics.consultations").first!.get("n")
                XCTAssertGreaterThan(consultations, 0, "analytics.consultations on the standby")
                let rows: Int64 = try views.execute("SELECT count(*) AS n FROM analytics.metrics WHERE consultation = 'c1'").first!.get("n")
                XCTAssertGreaterThan(rows, 0, "analytics.metrics on the standby")
            }

            let failedAt = Date()
            try cluster.failPrimary(signal)
            // The engine's part: the hand-made pair promotes at once, Patroni when the leader key expires.
            try cluster.failOver()
            let promotedAt = Date()
            // The old primary, down or frozen, is fenced and follows the new one (under Patroni's strict
            // synchronous mode the new primary's commits wait for it).
            try cluster.rejoin()
            let rejoinedAt = Date()
            XCTAssertTrue(waitFor(100, after: promotedAt, within: 60), "round \(round): acknowledged again after the promotion")
            stop.withLock { $0 = true }
            XCTAssertEqual(senders.wait(timeout: .now() + 30), .success)
            for pipeline in pipelines {
                XCTAssertTrue(pipeline.finish(timeout: 4 * timeout + 10), "every reply came (no hang)")
            }

            var busy = 0
            var late: [String] = []
            var firstOK: Date?
            for pipeline in pipelines {
                XCTAssertEqual(pipeline.answered.count, pipeline.sent.current.count, "one reply per request")
                for ((request, reply, seconds), sent) in zip(pipeline.answered, pipeline.sent.current) {
                    if seconds >= timeout + margin { late.append("\(request.prefix(24)) → \(reply.prefix(40)) after \(seconds) s") }
                    let words = reply.split(separator: " ")
                    if reply.hasPrefix("OK SUBMIT "), words.count == 4 {
                        let organisation = pipeline === pipelines[0] || pipeline === pipelines[2] ? "org-a" : "org-b"
                        acknowledged["\(organisation)/\(words[2])"] = String(words[3])
                        if sent.at > failedAt, firstOK.map({ sent.at.addingTimeInterval(seconds) < $0 }) ?? true {
                            firstOK = sent.at.addingTimeInterval(seconds)
                        }
                    } else if reply.hasPrefix("ERR BUSY") {
                        if sent.at >= failedAt.addingTimeInterval(-timeout) { busy += 1 }
                    } else {
                        XCTFail("round \(round): \(request.prefix(30)) → \(reply)")
                    }
                }
            }
            XCTAssertEqual(late.count, 0, "round \(round): answered later than \(timeout + margin) s: \(late.prefix(3))")
            let failover = firstOK.map { $0.timeIntervalSince(failedAt) } ?? -1
            // The outage clients saw: the longest time without any OK, around the failure.
            let okTimes = pipelines.flatMap { $0.replies.current.filter { $0.line.hasPrefix("OK") }.map(\.at) }
                .filter { $0 > failedAt.addingTimeInterval(-1) }.sorted()
            let outage = zip(okTimes, okTimes.dropFirst()).map { $1.timeIntervalSince($0) }.max() ?? -1
            print("round \(round) (\(signal == SIGKILL ? "SIGKILL" : "SIGSTOP") of the primary): no OK for \(String(format: "%.2f", outage)) s, first OK to a request sent after the failure \(String(format: "%.2f", failover)) s after it (promotion after \(String(format: "%.2f", promotedAt.timeIntervalSince(failedAt))) s, old primary rejoined after \(String(format: "%.2f", rejoinedAt.timeIntervalSince(failedAt))) s), \(busy) BUSY, \(late.count) late, \(acknowledged.count) acknowledged so far")

            // Every acknowledged submission is in the new primary's log once, at its position.
            let stored = try fixture.storedSubmissions()  // asserts that no key is stored twice
            var missing: [String] = []
            for (key, position) in acknowledged where stored[key].map(String.init) != position {
                missing.append("\(key) acknowledged at \(position), stored at \(stored[key].map(String.init) ?? "nowhere")")
            }
            XCTAssertEqual(missing.count, 0, "round \(round): \(missing.prefix(5))")
            XCTAssertGreaterThanOrEqual(fixture.daemon.log.components(separatedBy: "rebuilding the registry").count - 1, round, "the daemon noticed the new primary")

            // A consultation opened on the new primary is served at once: the registry was rebuilt from
            // it, not left at the old primary's position (which may lie past the new primary's head).
            try fixture.store.append(
                NewEvent(.consultationOpened(
                    Consultation(
                        id: "c-r\(round)", title: "After failover \(round)", convener: "UNHCR-JO", opensAt: Date().addingTimeInterval(-60),
                        closesAt: Date().addingTimeInterval(86_400), stages: ["design"], languages: ["ar"],
                        baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["18-24": 0.5, "25-59": 0.5]]))))
            let opened = try fixture.client(as: "org-b").request("SUBMIT c-r\(round) after \(Fixture.body)")
            XCTAssertTrue(opened.hasPrefix("OK SUBMIT after"), "round \(round): \(opened)")

            // A checkpoint signed after the failover covers the log; it extends every one signed before
            // (verify checks them all), the receipts kept before still verify and still fit the log.
            let primary = cluster.primaryURL(database)
            let signedAll = Date().addingTimeInterval(30)
            var covered = false
            while !covered && Date() < signedAll {
                let row = try fixture.store.connection.execute(
                    "SELECT (SELECT coalesce(max(tree_size), 0) FROM consult.checkpoints) >= (SELECT coalesce(max(position), 0) FROM consult.events) AS c"
                ).first!
                covered = try row.get("c")
                if !covered { Thread.sleep(forTimeInterval: 0.1) }  // polling the notary's table; it notifies nobody
            }
            XCTAssertTrue(covered, "round \(round): a checkpoint signed after the failover covers the whole log")
            let verified = try TestDatabase.run(consultctl, ["verify", "--database", primary, "--public-key", publicKey])
            XCTAssertEqual(verified.status, 0, "round \(round): verify: \(verified.stdout) \(verified.stderr)")
            for receipt in receipts {
                let extends = try TestDatabase.run(consultctl, ["verify", "--database", primary, "--public-key", publicKey, "--checkpoint", receipt])
                XCTAssertEqual(extends.status, 0, "round \(round): the log extends \(receipt): \(extends.stdout) \(extends.stderr)")
                let checked = try TestDatabase.run(consultctl, ["receipt", "--check", receipt, "--public-key", publicKey])
                XCTAssertEqual(checked.status, 0, "round \(round): \(receipt) still verifies: \(checked.stderr)")
            }
            // The old primary is a standby now, streaming synchronously from the new one.
            let rejoined = try Connection(cluster.standbyURL("postgres"))
            XCTAssertTrue(try rejoined.execute("SELECT pg_is_in_recovery() AS r").first!.get("r", as: Bool.self), "the old primary is a standby")
        }
    }
}
