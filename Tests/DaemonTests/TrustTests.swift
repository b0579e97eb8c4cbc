import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient
import TestSupport
import Merkle
import Trust
import XCTest

/// The tamper-evident log, as an organisation, an auditor and a dishonest administrator meet it.
final class TrustTests: XCTestCase {
    var folder: URL!
    var consultctl = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("trust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        consultctl = try TestDatabase.executable("consultctl")
        let made = try TestDatabase.run(consultctl, ["keys", "generate", "--out", folder.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let other = try TestDatabase.run(consultctl, ["keys", "generate", "--out", folder.path, "--name", "wrong"])
        XCTAssertEqual(other.status, 0, other.stderr)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    var key: String { folder.appendingPathComponent("consultd-signing.key").path }
    var publicKey: String { folder.appendingPathComponent("consultd-signing.pub").path }
    var wrongKey: String { folder.appendingPathComponent("wrong.pub").path }

    func ctl(_ arguments: [String], _ fixture: Fixture) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestDatabase.run(consultctl, arguments + ["--database", fixture.conninfo])
    }

    /// The receipt of `key`, kept in a file in this test's folder (the notary signs every 0.2 s here).
    func receipt(_ client: LineClient, _ key: String) throws -> String { try client.receiptFile(for: key, in: folder) }

    func testReceiptsProveInclusionAndVerifyFindsTampering() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        for key in ["k1", "k2", "k3"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        XCTAssertTrue(try fixture.client(as: "org-b").request("RECEIPT c1 k1").hasPrefix("ERR NOT_FOUND"), "only one's own")
        let first = try receipt(client, "k1")
        let second = try receipt(client, "k2")
        _ = try receipt(client, "k3")  // a checkpoint covers the whole log now

        // Offline, with the public key alone; a wrong key is refused.
        let checked = try TestDatabase.run(consultctl, ["receipt", "--check", first, "--public-key", publicKey])
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
        XCTAssertEqual(checked.stdout.split(separator: "\n").filter { $0.hasPrefix("ok") }.count, 3, checked.stdout)
        let wrong = try TestDatabase.run(consultctl, ["receipt", "--check", first, "--public-key", wrongKey])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stdout.contains("FAIL the checkpoint was signed by key"), wrong.stdout)

        // A healthy log verifies, signatures included; the wrong key fails every signature.
        let healthy = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertEqual(healthy.status, 0, healthy.stdout + healthy.stderr)
        XCTAssertTrue(healthy.stdout.contains("ok   every checkpoint is signed by key"), healthy.stdout)
        XCTAssertEqual(try ctl(["verify", "--public-key", wrongKey], fixture).status, 1)
        let extends = try ctl(["verify", "--public-key", publicKey, "--checkpoint", first], fixture)
        XCTAssertEqual(extends.status, 0, extends.stdout + extends.stderr)
        XCTAssertTrue(extends.stdout.contains("ok   today's log extends the given checkpoint"), extends.stdout)

        // A report states the checkpoint it was computed at, and an auditor can hold the log to it.
        let reports = folder.appendingPathComponent("reports").path
        let report = try ctl(["report", "--consultation", "c1", "--format", "json", "--out", reports], fixture)
        XCTAssertEqual(report.status, 0, report.stderr)
        let reportFile = reports + "/c1.json"
        let reportJSON = try JSONParser().parse(String(try String(contentsOfFile: reportFile, encoding: .utf8).prefix { $0 != "\n" }))
        guard case .number(let size)? = reportJSON["checkpoint"]?["size"], let covered = Int64(size) else {
            return XCTFail("the report states no checkpoint: \(reportJSON)")
        }
        XCTAssertGreaterThanOrEqual(covered, try fixture.store.headPosition() - 1)
        let audited = try ctl(["verify", "--public-key", publicKey, "--checkpoint", reportFile], fixture)
        XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)

        // The administrator switches the guards off and changes one byte of k1's submission.
        let position = try fixture.storedSubmissions()["org-a/k1"]!
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let admin = fixture.store.connection
        try admin.execute("ALTER TABLE consult.events DISABLE TRIGGER USER")
        try admin.execute(
            "UPDATE consult.events SET data = jsonb_set(data, '{submission,people_consulted}', '121') WHERE position = $1", [position])
        let tampered = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertEqual(tampered.status, 1)
        XCTAssertTrue(tampered.stdout.contains("FAIL every event matches its leaf in the stored tree (position \(position):"), tampered.stdout)
        XCTAssertTrue(tampered.stderr.contains("position \(position)"), tampered.stderr)
        // The receipt issued before no longer fits today's log, and says where; the organisation's
        // own copies still prove what the log held (checked offline).
        let old = try ctl(["verify", "--public-key", publicKey, "--checkpoint", first], fixture)
        XCTAssertEqual(old.status, 1)
        XCTAssertTrue(old.stdout.contains("FAIL today's log extends the given checkpoint"), old.stdout)
        XCTAssertTrue(old.stdout.contains("position \(position) differs"), old.stdout)
        XCTAssertEqual(try TestDatabase.run(consultctl, ["receipt", "--check", second, "--public-key", publicKey]).status, 0)
        XCTAssertEqual(try TestDatabase.run(consultctl, ["receipt", "--check", first, "--public-key", publicKey]).status, 0)
    }

    /// The leaf hashed from a binary COPY row in place (the verifier's and the notary's path) is the
    /// documented encoding (`leafInput`) of the event as text columns show it, and an independent verifier in Python, written from
    /// docs/TRUST.md alone, accepts a real receipt.
    func testLeavesFollowTheDocumentedEncoding() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        XCTAssertTrue(try client.request(#"SUBMIT c1 k1 {"stage": "design", "language": "ar", "text": "é \"quoted\" ✓ \u0001"}"#).hasPrefix("OK"))
        let path = try receipt(client, "k1")
        var events: [RecordedEvent] = []
        try fixture.store.connection.stream("SELECT \(RecordedEvent.leafColumns) FROM consult.events ORDER BY position") { events.append(try RecordedEvent(leafRow: $0)) }
        var compared = 0
        try LeafRow.copy(fixture.store.connection, from: 1, through: .max) { row in
            let event = events[compared]
            XCTAssertEqual(row.position, event.position)
            XCTAssertEqual(row.recordedAtMicroseconds, event.recordedAtMicroseconds, "position \(event.position)")
            XCTAssertEqual(row.leafHash, event.leafHash, "position \(event.position)")
            compared += 1
        }
        XCTAssertEqual(compared, Int(try fixture.store.headPosition()))
        // The same events as the log reads them (the time a `Date`, its microseconds rounded back) give the same leaves.
        let logged = try EventStore(connection: fixture.store.connection).read(after: 0, limit: events.count)
        XCTAssertEqual(logged.map(\.leafHash), events.map(\.leafHash))
        let script = TestDatabase.repositoryRoot.appendingPathComponent("docs/verify_receipt.py").path
        let checked = try TestDatabase.run("/usr/bin/env", ["python3", script, path, publicKey])
        XCTAssertEqual(checked.status, 0, checked.stderr)
        XCTAssertTrue(checked.stdout.contains("leaf hash matches: True"), checked.stdout)
        XCTAssertTrue(checked.stdout.contains("included in the checkpoint's tree: True"), checked.stdout)
        XCTAssertTrue(checked.stdout.contains("key id matches: True"), checked.stdout)
    }

    /// Hashing in chunks by parallel readers gives the same findings whatever the chunk size, and a
    /// gap in the middle of the log is named wherever it falls.
    func testChunkedVerificationIsTheSameAtEveryChunkSize() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        for index in 0..<7 { XCTAssertTrue(try client.request("SUBMIT c1 k\(index) \(Fixture.body)").hasPrefix("OK")) }
        _ = try receipt(client, "k6")
        let connection = fixture.store.connection
        let key = try PublicKey.load(publicKey)
        let whole = try LogVerifier(connection: connection, conninfo: fixture.conninfo, readers: 1, chunk: 1_000).verify(key: key)
        XCTAssertTrue(whole.allSatisfy(\.passed), "\(whole)")
        for (readers, chunk) in [(2, 1), (2, 2), (3, 3), (1, 5)] {
            XCTAssertEqual(try LogVerifier(connection: connection, conninfo: fixture.conninfo, readers: readers, chunk: Int64(chunk)).verify(key: key), whole)
        }
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        try connection.execute("ALTER TABLE consult.events DISABLE TRIGGER USER")
        try connection.execute("DELETE FROM consult.events WHERE position = 8")
        for chunk in [1, 2, 3, 1_000] {
            let findings = try LogVerifier(connection: connection, conninfo: fixture.conninfo, readers: 2, chunk: Int64(chunk)).verify(key: key)
            XCTAssertEqual(findings.first?.detail, "position 8 is missing", "chunk \(chunk)")
        }
    }

    /// Deleting an event's leaf from the stored tree does not hide a change to the event.
    func testAMissingStoredLeafIsNamed() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        for index in 0..<3 { XCTAssertTrue(try client.request("SUBMIT c1 k\(index) \(Fixture.body)").hasPrefix("OK")) }
        _ = try receipt(client, "k2")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let position = try fixture.storedSubmissions()["org-a/k1"]!
        let admin = fixture.store.connection
        try admin.execute("DELETE FROM consult.merkle_nodes WHERE level = 0 AND index = $1", [position - 1])
        let findings = try LogVerifier(connection: admin, conninfo: fixture.conninfo).verify(key: nil)
        XCTAssertEqual(findings.first { $0.check == "every event matches its leaf in the stored tree" }?.detail,
                       "position \(position): its leaf is missing from the stored tree, which covers \(try fixture.store.headPosition()) events")
    }

    /// docs/TRUST.md's worked example, computed by the Swift code (no database needed).
    func testTheWorkedExampleOfTrustMD() throws {
        let events = [
            RecordedEvent(position: 1, eventID: UUID(uuidString: "1f0c7e3a-4b5d-4c6e-8f70-8192a3b4c5d6")!, stream: "consultation-c1", version: 1,
                          type: "ConsultationOpened", data: #"{"id": "c1"}"#, metadata: "{}", recordedAtMicroseconds: 1_795_000_000_000_000, idempotencyKey: nil),
            RecordedEvent(position: 2, eventID: UUID(uuidString: "2a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")!, stream: "submission-org-a/c1/k1",
                          version: 1, type: "SubmissionReceived",
                          data: #"{"key": "k1", "submission": {"text": "Buses cost too much.", "stage": "design", "language": "ar"}, "consultation": "c1", "organisation": "org-a"}"#,
                          metadata: #"{"protocol": "consultd-line/1"}"#, recordedAtMicroseconds: 1_795_000_001_250_000, idempotencyKey: nil),
            RecordedEvent(position: 3, eventID: UUID(uuidString: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")!, stream: "feedback-org-a/c1/k1", version: 1,
                          type: "FeedbackGiven", data: #"{"key": "k1", "text": "Thank you.", "consultation": "c1", "organisation": "org-a"}"#,
                          metadata: "{}", recordedAtMicroseconds: 1_795_000_002_500_000, idempotencyKey: nil),
        ]
        XCTAssertEqual(events[0].leafInput.count, 120)
        XCTAssertEqual(events.map(\.leafHash.hex), [
            "363819e634742bb0e8134501d9d89365b33d55cdace66571d13d4b0b90ac99fe",
            "76aa2e81fa374b564cff402c567466d6c1eb5d395448c1ab58f19d7d46006f75",
            "954f8c6fb3a13384662bb512e251f8b31b83c3999e6795ef704ddec34cae178d",
        ])
        var frontier = MerkleFrontier()
        for event in events { frontier.append(event.leafHash) }
        XCTAssertEqual(frontier.root.hex, "4e03d36c9a5762358b10aa5696712a8f1557db8084418d60b272297a96e00459")
        let hex = Array("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let secret = Data(stride(from: 0, to: hex.count, by: 2).map { UInt8(String(hex[$0...$0 + 1]), radix: 16)! })
        let key = try SigningKey(fileText: "consultd-ed25519-private \(secret.base64EncodedString())")
        XCTAssertEqual(key.publicKey.id, "21fe31dfa154a261626bf854046fd227")
        let checkpoint = try Checkpoint.sign(size: 3, root: frontier.root, logTimeMicroseconds: 1_795_000_002_500_000, with: key)
        XCTAssertEqual(Data(checkpoint.signature).base64EncodedString(),
                       "PLqGIJRi5nzkctAwwQzX6LH1hdcm8IxjkUc0PWsINj90ccEns6KhTOUStoIyXzZu1z7H2fmGUhJi3lU/8UtWBw==")
        XCTAssertTrue(checkpoint.isSigned(by: key.publicKey))
    }

    func testDeletingOrReorderingEventsIsNamed() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        for key in ["k1", "k2", "k3"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        _ = try receipt(client, "k3")  // a checkpoint covers the whole log
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let admin = fixture.store.connection
        let head = try fixture.store.headPosition()
        try admin.execute("ALTER TABLE consult.events DISABLE TRIGGER USER")

        // Two events swap places (their contents; ids and streams are unique, so they stay): the
        // first of them is named.
        try admin.execute(
            """
            UPDATE consult.events e SET data = o.data, metadata = o.metadata
              FROM (SELECT position, data, metadata FROM consult.events WHERE position IN ($1, $2)) o
             WHERE e.position IN ($1, $2) AND o.position <> e.position
            """, [head - 2, head - 1])
        let reordered = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertEqual(reordered.status, 1)
        XCTAssertTrue(reordered.stdout.contains("(position \(head - 2):"), reordered.stdout)

        // An event's time moved back an hour: the order-of-time check names it (and its leaf differs).
        try admin.execute("UPDATE consult.events SET recorded_at = recorded_at - interval '1 hour' WHERE position = $1", [head - 1])
        let backdated = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertEqual(backdated.status, 1)
        XCTAssertTrue(backdated.stdout.contains("FAIL recorded_at never goes back more than a second as positions go forward (position \(head - 1) "), backdated.stdout)

        // The last event deleted: the checkpoint covers a position the log no longer has.
        try admin.execute("DELETE FROM consult.events WHERE position = $1", [head])
        let deleted = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertEqual(deleted.status, 1)
        XCTAssertTrue(deleted.stdout.contains("position \(head) is missing") || deleted.stdout.contains("positions \(head)…"), deleted.stdout)
    }

    /// The cover-up: a superuser edits an event, then empties the stored tree and the checkpoints so
    /// that nothing disagrees with the edit. verify fails and says what it compared, not "(N leaves)".
    func testVerifyIsNotFooledByRemovingTheTreeAndTheCheckpoints() throws {
        let fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        let client = try fixture.client()
        for key in ["k1", "k2", "k3"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        _ = try receipt(client, "k3")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let head = try fixture.store.headPosition()
        let healthy = try ctl(["verify", "--public-key", publicKey, "--recent", "0"], fixture)
        XCTAssertEqual(healthy.status, 0, healthy.stdout + healthy.stderr)
        XCTAssertTrue(healthy.stdout.contains("ok   every event matches its leaf in the stored tree (\(head) events compared with \(head) stored leaves)"), healthy.stdout)

        let admin = fixture.store.connection
        try admin.execute("ALTER TABLE consult.events DISABLE TRIGGER USER")
        try admin.execute("UPDATE consult.events SET data = jsonb_set(data, '{submission,text}', '\"edited\"') WHERE position = $1", [head])
        try admin.execute("ALTER TABLE consult.checkpoints DISABLE TRIGGER USER")
        try admin.execute("ALTER TABLE consult.merkle_nodes DISABLE TRIGGER USER")
        try admin.execute("TRUNCATE consult.checkpoints, consult.merkle_nodes")
        // Within --recent, a young log may not be in the tree yet: nothing is claimed either way.
        let young = try ctl(["verify", "--public-key", publicKey], fixture)
        XCTAssertTrue(young.stdout.contains("ok   every event matches its leaf in the stored tree (0 events compared with 0 stored leaves; \(head) events not in the tree yet)"), young.stdout)
        // Once the events are older than that, the missing tree and checkpoints are what they are.
        let covered = try ctl(["verify", "--public-key", publicKey, "--recent", "0"], fixture)
        XCTAssertEqual(covered.status, 1, covered.stdout)
        XCTAssertTrue(covered.stdout.contains("FAIL the stored tree covers every event older than 0 s (positions 1…\(head) are not in the stored tree;"), covered.stdout)
        XCTAssertTrue(covered.stdout.contains("FAIL signed checkpoints cover every event older than 0 s (no checkpoint covers positions 1…\(head)"), covered.stdout)
        XCTAssertFalse(covered.stdout.contains("(\(head) leaves)"), "no count of leaves it did not read")
    }

    /// Without a signing key consultd says so when it starts, and RECEIPT says no receipt can be
    /// given, instead of asking the client to retry for ever.
    func testAServerWithoutASigningKeySaysItGivesNoReceipts() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertEqual(try client.request("RECEIPT c1 k1"),
                       "ERR NOT_FOUND this server signs no checkpoints (it runs without a signing key), so it gives no receipts; tell its operator")
        XCTAssertTrue(fixture.daemon.log.contains("no signing key: this server signs no checkpoints"), fixture.daemon.log)
        XCTAssertTrue(fixture.daemon.log.contains("signing=off") || fixture.daemon.log.contains("\"signing\":\"off\""), fixture.daemon.log)
    }
}
