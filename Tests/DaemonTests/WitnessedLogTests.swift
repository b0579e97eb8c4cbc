import Foundation
import JSON
import Merkle
import PostgresClient
import TestSupport
import Transparency
import Trust
import XCTest

/// consultd's checkpoints as C2SP notes, cosigned by real witnesses (`consultctl witness serve`),
/// receipts as tlog-proof files, tiles for outsiders, and the first format still verifying.
final class WitnessedLogTests: XCTestCase {
    var folder: URL!
    var consultctl = ""
    static let origin = "consult.test/log"

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("witnessed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        consultctl = try TestDatabase.executable("consultctl")
        let made = try TestDatabase.run(consultctl, ["keys", "generate", "--out", folder.path, "--origin", Self.origin])
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.contains("consultd-signing.vkey"), made.stdout)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    var key: String { folder.appendingPathComponent("consultd-signing.key").path }
    var publicKey: String { folder.appendingPathComponent("consultd-signing.pub").path }
    var vkeyPath: String { folder.appendingPathComponent("consultd-signing.vkey").path }
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func ctl(_ arguments: [String], _ fixture: Fixture) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestDatabase.run(consultctl, arguments + ["--database", fixture.conninfo])
    }

    /// A witness with a key of its own, configured for this log: the process and its vkey.
    func witness(_ name: String) throws -> (process: WitnessProcess, vkey: String) {
        let dir = path(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let made = try TestDatabase.run(consultctl, ["keys", "generate-witness", "--name", "\(name).test/witness", "--out", dir])
        XCTAssertEqual(made.status, 0, made.stderr)
        let state = dir + "/state.json"
        // A witness's first start makes its state file; it never starts from a missing one otherwise.
        let fresh = FileManager.default.fileExists(atPath: state) ? [] : ["--new-state"]
        let process = try WitnessProcess(arguments: ["--key", dir + "/witness.key", "--log", vkeyPath, "--state", state] + fresh)
        return (process, made.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The RECEIPT reply's JSON once `accept` holds (polled: the notary signs every 0.2 s here and
    /// the witnesses cosign asynchronously; nothing signals a client).
    func receiptJSON(_ client: LineClient, _ key: String, timeout: Double = 30, until accept: (JSONValue) -> Bool) throws -> JSONValue {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try client.request("RECEIPT c1 \(key)")
            if last.hasPrefix("OK RECEIPT ") {
                let json = try JSONParser().parse(String(last.dropFirst("OK RECEIPT ".count)))
                if accept(json) { return json }
            } else {
                XCTAssertTrue(last.hasPrefix("ERR BUSY"), last)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestEnvironmentError(description: "no acceptable receipt for \(key) within \(timeout) s; last: \(last.prefix(300))")
    }

    static func cosignatures(_ json: JSONValue) -> Int {
        if case .number(let n)? = json["cosignatures"] { return Int(n) ?? -1 }
        return -1
    }

    func write(_ text: String, _ name: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func get(_ port: UInt16, _ path: String) throws -> HTTPClient.Answer {
        try HTTPClient.request("http://127.0.0.1:\(port)\(path)", timeout: 10)
    }

    /// A fixture whose consultd submits to two witnesses, quorum 2, with its HTTP port open.
    func witnessedFixture(_ w1: (process: WitnessProcess, vkey: String), _ w2: (process: WitnessProcess, vkey: String)) throws -> Fixture {
        try Fixture(daemonArguments: [
            "--signing-key", key, "--checkpoint-interval", "0.2", "--log-origin", Self.origin, "--http-port", "0",
            "--witness", "\(w1.vkey) http://127.0.0.1:\(w1.process.port)", "--witness", "\(w2.vkey) http://127.0.0.1:\(w2.process.port)/",
            "--witness-quorum", "2",
        ])
    }

    func testTwoWitnessesCosignReceiptsVerifyOfflineAndTilesGiveProofs() throws {
        let w1 = try witness("w1"), w2 = try witness("w2")
        let fixture = try witnessedFixture(w1, w2)
        XCTAssertTrue(fixture.daemon.log.contains("origin=\(Self.origin)"), fixture.daemon.log)
        XCTAssertTrue(fixture.daemon.log.contains("witnesses=2 of 2"), fixture.daemon.log)
        let client = try fixture.client()
        for key in ["k1", "k2"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        let json = try receiptJSON(client, "k2") { Self.cosignatures($0) == 2 }
        guard let proofText = json["tlog_proof"]?.stringValue else { return XCTFail("no tlog_proof in \(json)") }
        XCTAssertTrue(proofText.hasPrefix("c2sp.org/tlog-proof@v1\nextra "), proofText)
        let proofFile = try write(proofText, "k2.tlog-proof")
        XCTAssertTrue(w1.process.log.contains("status=200"), w1.process.log)

        // Offline: the log's vkey, both witnesses' vkeys, quorum 2.
        let checked = try TestDatabase.run(
            consultctl, ["receipt", "--check", proofFile, "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey, "--quorum", "2"])
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
        XCTAssertEqual(checked.stdout.split(separator: "\n").filter { $0.hasPrefix("ok  ") }.count, 5, checked.stdout)
        XCTAssertTrue(checked.stdout.contains("ok   cosigned by 2 of the 2 witnesses given (quorum 2)"), checked.stdout)
        XCTAssertTrue(checked.stdout.contains("event SubmissionReceived in submission-org-a/c1/k2"), checked.stdout)
        // An independent verifier written from docs/TRUST.md and the C2SP specs agrees.
        let script = TestDatabase.repositoryRoot.appendingPathComponent("docs/verify_tlog_proof.py").path
        let python = try TestDatabase.run("/usr/bin/env", ["python3", script, proofFile, vkeyPath, "2", w1.vkey, w2.vkey])
        XCTAssertEqual(python.status, 0, python.stdout + python.stderr)
        XCTAssertTrue(python.stdout.contains("ok   2 of 2 witnesses cosigned it (quorum 2)"), python.stdout)
        XCTAssertTrue(python.stdout.contains("ok   the event is in the tree of size"), python.stdout)
        XCTAssertTrue(python.stdout.contains("event: SubmissionReceived submission-org-a/c1/k2"), python.stdout)
        let pythonShort = try TestDatabase.run("/usr/bin/env", ["python3", script, proofFile, vkeyPath, "2", w1.vkey])
        XCTAssertEqual(pythonShort.status, 1, pythonShort.stdout + pythonShort.stderr)
        // A witness it does not know counts for nothing; a wrong log key, an edited index, fail.
        let w3dir = path("w3")
        try FileManager.default.createDirectory(atPath: w3dir, withIntermediateDirectories: true)
        let w3 = try TestDatabase.run(consultctl, ["keys", "generate-witness", "--name", "w3.test/witness", "--out", w3dir])
        let short = try TestDatabase.run(
            consultctl, ["receipt", "--check", proofFile, "--log-key", vkeyPath, "--witness", w1.vkey,
                         "--witness", w3.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--quorum", "2"])
        XCTAssertEqual(short.status, 1, short.stdout)
        XCTAssertTrue(short.stdout.contains("FAIL cosigned by 1 of the 2 witnesses given (quorum 2)"), short.stdout)
        let otherLog = try SignerKey.generate(name: Self.origin).verifierKey.text
        let wrongLog = try TestDatabase.run(consultctl, ["receipt", "--check", proofFile, "--log-key", otherLog, "--quorum", "0"])
        XCTAssertEqual(wrongLog.status, 1, wrongLog.stdout)
        XCTAssertTrue(wrongLog.stdout.contains("FAIL the checkpoint of origin \(Self.origin) is signed by the log's key"), wrongLog.stdout)
        let proof = try TlogProof(parsing: proofText)
        var moved = proof
        moved.index = 0
        let movedFile = try write(moved.serialized, "moved.tlog-proof")
        let movedCheck = try TestDatabase.run(
            consultctl, ["receipt", "--check", movedFile, "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey, "--quorum", "2"])
        XCTAssertEqual(movedCheck.status, 1, movedCheck.stdout)
        XCTAssertTrue(movedCheck.stdout.contains("FAIL the proof's index 0 is that position − 1"), movedCheck.stdout)

        // `consultctl receipt --out FILE.tlog-proof` writes the same kind of file.
        let fetched = try TestDatabase.run(
            consultctl, ["receipt", "--port", "\(fixture.daemon.port)", "--organisation", "org-a", "--consultation", "c1", "--key", "k1",
                         "--out", path("k1.tlog-proof")], environment: ["CONSULT_TOKEN": fixture.tokens["org-a"]!])
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        let k1 = try TestDatabase.run(
            consultctl, ["receipt", "--check", path("k1.tlog-proof"), "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey])
        XCTAssertEqual(k1.status, 0, k1.stdout + k1.stderr)

        // GET /checkpoint: the cosigned checkpoint, which verify holds the log to.
        guard let http = fixture.daemon.httpPort else { return XCTFail("no HTTP port") }
        let first = try get(http, "/checkpoint")
        XCTAssertEqual(first.status, 200)
        let firstNote = try SignedNote(parsing: first.body)
        let witnessKeys = try [VerifierKey(parsing: w1.vkey), VerifierKey(parsing: w2.vkey)]
        XCTAssertEqual(try firstNote.verifiedKeys(witnessKeys.map(\.verifier)).count, 2)
        try firstNote.verify([try VerifierKey(parsing: String(contentsOfFile: vkeyPath, encoding: .utf8)).verifier])
        let firstCheckpoint = try Transparency.Checkpoint(text: firstNote.text)
        let kept = try write(firstNote.serialized, "kept.checkpoint")
        let verified = try ctl(["verify", "--public-key", vkeyPath, "--checkpoint", kept], fixture)
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        XCTAssertTrue(verified.stdout.contains("ok   today's log extends the given checkpoint"), verified.stdout)
        let withWitnesses = try ctl(
            ["verify", "--public-key", vkeyPath, "--witness", "\(w1.vkey) http://127.0.0.1:\(w1.process.port)",
             "--witness", "\(w2.vkey) http://127.0.0.1:\(w2.process.port)"], fixture)
        XCTAssertEqual(withWitnesses.status, 0, withWitnesses.stdout + withWitnesses.stderr)
        XCTAssertTrue(withWitnesses.stdout.contains("ok   today's log extends witness w1.test/witness's checkpoint"), withWitnesses.stdout)
        XCTAssertTrue(withWitnesses.stdout.contains("ok   every stored cosignature by the given witnesses verifies on its stored checkpoint"), withWitnesses.stdout)

        // More than a full tile of events, then a tlog-tiles client computes the consistency proof
        // between the two cosigned checkpoints from the tiles alone.
        for index in 0..<300 { try client.send("SUBMIT c1 bulk\(index) \(Fixture.body)") }
        for _ in 0..<300 { XCTAssertTrue(try client.readLine()?.hasPrefix("OK SUBMIT") ?? false) }
        _ = try receiptJSON(client, "bulk299") { Self.cosignatures($0) == 2 }
        let second = try get(http, "/checkpoint")
        let secondNote = try SignedNote(parsing: second.body)
        let secondCheckpoint = try Transparency.Checkpoint(text: secondNote.text)
        XCTAssertGreaterThan(secondCheckpoint.size, 256)
        XCTAssertEqual(try secondNote.verifiedKeys(witnessKeys.map(\.verifier)).count, 2)
        let tiles = TileClient(size: secondCheckpoint.size) { tilePath in
            let answer = try self.get(http, "/" + tilePath)
            return answer.status == 200 ? answer.body : nil
        }
        XCTAssertEqual(try tiles.root(), secondCheckpoint.root)
        let consistency = try tiles.consistencyProof(from: firstCheckpoint.size)
        XCTAssertTrue(MerkleProofs.verifyConsistency(
            from: firstCheckpoint.size, to: secondCheckpoint.size, proof: consistency, oldRoot: firstCheckpoint.root, newRoot: secondCheckpoint.root))
        XCTAssertFalse(MerkleProofs.verifyConsistency(
            from: firstCheckpoint.size, to: secondCheckpoint.size, proof: consistency, oldRoot: secondCheckpoint.root, newRoot: secondCheckpoint.root))
        XCTAssertTrue(tiles.fetched.contains("tile/0/000"), "\(tiles.fetched)")
        let full = try get(http, "/tile/0/000")
        XCTAssertEqual(full.body.count, 8_192)
        XCTAssertEqual(full.headers["cache-control"], "public, max-age=31536000, immutable")
        let partialPath = TileID.all(size: secondCheckpoint.size).first { $0.isPartial && $0.level == 0 }!.path
        let partial = try get(http, "/" + partialPath)
        XCTAssertEqual(partial.status, 200)
        XCTAssertEqual(partial.headers["cache-control"], "public, max-age=31536000, immutable")
        XCTAssertEqual(partial.headers["content-type"], "application/octet-stream")
        XCTAssertEqual(second.headers["cache-control"], "no-cache")
        XCTAssertEqual(second.headers["content-type"], "text/plain; charset=utf-8")
        // Nothing beyond the published tree, and never entries.
        XCTAssertEqual(try get(http, "/tile/0/001").status, 404)
        XCTAssertEqual(try get(http, "/tile/entries/000").status, 404)
        XCTAssertEqual(try get(http, "/tile/0/001.p/\(Int(secondCheckpoint.size % 256) + 1)").status, 404)

        // A report cites a checkpoint covering it and says how many witnesses cosigned it.
        let reports = path("reports")
        let report = try ctl(["report", "--consultation", "c1", "--format", "json", "--out", reports], fixture)
        XCTAssertEqual(report.status, 0, report.stderr)
        let reportJSON = try JSONParser().parse(String(try String(contentsOfFile: reports + "/c1.json", encoding: .utf8).prefix { $0 != "\n" }))
        XCTAssertEqual(reportJSON["checkpoint"].map { Self.cosignatures($0) }, 2, "\(reportJSON["checkpoint"] ?? .null)")
        let reportNote = try SignedNote(parsing: reportJSON["checkpoint"]?["note"]?.stringValue ?? "")
        XCTAssertEqual(try reportNote.verifiedKeys(witnessKeys.map(\.verifier)).count, 2)
        // The report people read says so too.
        XCTAssertEqual(try ctl(["report", "--consultation", "c1", "--format", "html", "--lang", "fr", "--out", reports], fixture).status, 0)
        XCTAssertTrue(try String(contentsOfFile: reports + "/c1.html", encoding: .utf8).contains("Cosigné par <bdi>2</bdi> témoins"))

        // The receipts an organisation keeps with `submit --receipts`.
        let receipts = path("receipts")
        let kept2 = try TestDatabase.run(
            consultctl, ["submit", "--port", "\(fixture.daemon.port)", "--organisation", "org-a", "--consultation", "c1", "--key", "kept1",
                         "--body", Fixture.body, "--receipts", receipts], environment: ["CONSULT_TOKEN": fixture.tokens["org-a"]!])
        XCTAssertEqual(kept2.status, 0, kept2.stderr)
        let keptCheck = try TestDatabase.run(
            consultctl, ["receipt", "--check", receipts + "/c1.kept1.tlog-proof", "--log-key", vkeyPath, "--quorum", "0"])
        XCTAssertEqual(keptCheck.status, 0, keptCheck.stdout + keptCheck.stderr)
    }

    func testWitnessesRefuseARewrittenHistoryAndItsReceiptsMissTheQuorum() throws {
        let w1 = try witness("w1"), w2 = try witness("w2")
        var fixture = try witnessedFixture(w1, w2)
        let client = try fixture.client()
        for key in ["k1", "k2", "k3"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        let honest = try receiptJSON(client, "k3") { Self.cosignatures($0) == 2 }
        let honestProof = try write(honest["tlog_proof"]!.stringValue!, "honest.tlog-proof")
        _ = try? client.request("QUIT")

        // The operator rewrites k1's submission, empties the tree and the checkpoints, and has the
        // same key sign the rewritten log.
        let position = try fixture.storedSubmissions()["org-a/k1"]!
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let admin = fixture.store.connection
        for table in ["events", "checkpoints", "cosignatures"] { try admin.execute("ALTER TABLE consult.\(table) DISABLE TRIGGER USER") }
        try admin.execute(
            "UPDATE consult.events SET data = jsonb_set(data, '{submission,people_consulted}', '9') WHERE position = $1", [position])
        try admin.execute("DELETE FROM consult.cosignatures")
        try admin.execute("DELETE FROM consult.checkpoints")
        try admin.execute("DELETE FROM consult.merkle_nodes")
        for table in ["events", "checkpoints", "cosignatures"] { try admin.execute("ALTER TABLE consult.\(table) ENABLE TRIGGER USER") }
        try fixture.restartDaemon(arguments: [
            "--signing-key", key, "--checkpoint-interval", "0.2", "--log-origin", Self.origin, "--http-port", "0",
            "--witness", "\(w1.vkey) http://127.0.0.1:\(w1.process.port)", "--witness", "\(w2.vkey) http://127.0.0.1:\(w2.process.port)",
            "--witness-quorum", "2",
        ])
        let forked = try fixture.client()
        XCTAssertTrue(try forked.request("SUBMIT c1 k4 \(Fixture.body)").hasPrefix("OK SUBMIT k4"))
        // Both witnesses refuse: the same size with another root, or a proof that does not verify.
        for w in [w1, w2] {
            XCTAssertTrue(w.process.waitForLog("status=422", timeout: 30), w.process.log)
        }
        XCTAssertTrue(fixture.daemon.waitForLog("witness did not cosign"), fixture.daemon.log)
        XCTAssertEqual(try fixture.store.connection.execute("SELECT count(*) AS n FROM consult.cosignatures").first!.get("n", as: Int64.self), 0)
        // The forked log's receipt carries no cosignature, and fails a quorum of 1 or 2.
        let json = try receiptJSON(forked, "k4") { $0["tlog_proof"] != nil }
        XCTAssertEqual(Self.cosignatures(json), 0)
        let forkedProof = try write(json["tlog_proof"]!.stringValue!, "forked.tlog-proof")
        for quorum in ["1", "2"] {
            let checked = try TestDatabase.run(
                consultctl, ["receipt", "--check", forkedProof, "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey, "--quorum", quorum])
            XCTAssertEqual(checked.status, 1, checked.stdout)
            XCTAssertTrue(checked.stdout.contains("FAIL cosigned by 0 of the 2 witnesses given (quorum \(quorum))"), checked.stdout)
        }
        // The organisation's receipt from before still verifies offline, and verify finds the fork with it.
        let old = try TestDatabase.run(
            consultctl, ["receipt", "--check", honestProof, "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey, "--quorum", "2"])
        XCTAssertEqual(old.status, 0, old.stdout)
        let found = try ctl(["verify", "--public-key", vkeyPath, "--checkpoint", honestProof], fixture)
        XCTAssertEqual(found.status, 1, found.stdout)
        XCTAssertTrue(found.stdout.contains("FAIL today's log extends the given checkpoint"), found.stdout)
        XCTAssertTrue(found.stdout.contains("position \(position) differs") || found.stdout.contains("root at size"), found.stdout)
        // Without any receipt: the witnesses' own checkpoints show the fork.
        let byWitnesses = try ctl(
            ["verify", "--public-key", vkeyPath, "--witness", "\(w1.vkey) http://127.0.0.1:\(w1.process.port)",
             "--witness", "\(w2.vkey) http://127.0.0.1:\(w2.process.port)"], fixture)
        XCTAssertEqual(byWitnesses.status, 1, byWitnesses.stdout)
        XCTAssertTrue(byWitnesses.stdout.contains("FAIL today's log extends witness w1.test/witness's checkpoint"), byWitnesses.stdout)
        XCTAssertTrue(byWitnesses.stdout.contains("FAIL today's log extends witness w2.test/witness's checkpoint"), byWitnesses.stdout)
        XCTAssertTrue(byWitnesses.stdout.contains("ok   every checkpoint's root is the root of the log at its size"), byWitnesses.stdout)
    }

    /// consultd starts from the size it last stored a cosignature for; a witness that has a later
    /// one (here: the stored cosignatures were lost) answers 409 with its size, and consultd resends
    /// from there with the consistency proof, and is cosigned.
    func testA409IsResentFromTheWitnessSize() throws {
        let w1 = try witness("w1"), w2 = try witness("w2")
        var fixture = try witnessedFixture(w1, w2)
        var client = try fixture.client()
        for key in ["k1", "k2"] {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        _ = try receiptJSON(client, "k2") { Self.cosignatures($0) == 2 }
        _ = try? client.request("QUIT")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        XCTAssertFalse(w1.process.log.contains("status=409"), w1.process.log)
        let admin = fixture.store.connection
        try admin.execute("ALTER TABLE consult.cosignatures DISABLE TRIGGER USER")
        try admin.execute("DELETE FROM consult.cosignatures")
        try admin.execute("ALTER TABLE consult.cosignatures ENABLE TRIGGER USER")
        try fixture.restartDaemon(arguments: [
            "--signing-key", key, "--checkpoint-interval", "0.2", "--log-origin", Self.origin,
            "--witness", "\(w1.vkey) http://127.0.0.1:\(w1.process.port)", "--witness", "\(w2.vkey) http://127.0.0.1:\(w2.process.port)",
            "--witness-quorum", "2",
        ])
        client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k3 \(Fixture.body)").hasPrefix("OK SUBMIT k3"))
        let json = try receiptJSON(client, "k3") { Self.cosignatures($0) == 2 }
        for w in [w1, w2] { XCTAssertTrue(w.process.log.contains("status=409"), w.process.log) }
        let proof = try write(json["tlog_proof"]!.stringValue!, "k3.tlog-proof")
        let checked = try TestDatabase.run(
            consultctl, ["receipt", "--check", proof, "--log-key", vkeyPath, "--witness", w1.vkey, "--witness", w2.vkey, "--quorum", "2"])
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
    }

    func testFirstFormatReceiptsKeepVerifyingAndTheOriginIsSetOnce() throws {
        var fixture = try Fixture(daemonArguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        XCTAssertTrue(fixture.daemon.log.contains("no --log-origin"), fixture.daemon.log)
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        let oldJSON = try receiptJSON(client, "k1") { _ in true }
        XCTAssertNil(oldJSON["tlog_proof"])
        XCTAssertNil(oldJSON["checkpoint"]?["origin"])
        let oldReceipt = try write(oldJSON.serialized, "k1.receipt.json")
        _ = try? client.request("QUIT")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)

        // Witnesses need an origin.
        XCTAssertThrowsError(try Fixture.startDaemon(fixture, ["--signing-key", key, "--witness", "\(try SignerKey.generate(name: "w", type: .cosignatureV1).verifierKey.text) http://127.0.0.1:9"])) {
            XCTAssertTrue("\($0)".contains("--witness needs --log-origin"), "\($0)")
        }
        // The origin is set once, then C2SP checkpoints follow the first-format ones in the same tree.
        try fixture.restartDaemon(arguments: ["--signing-key", key, "--checkpoint-interval", "0.2", "--log-origin", Self.origin])
        XCTAssertTrue(fixture.daemon.log.contains("origin=\(Self.origin)"), fixture.daemon.log)
        let client2 = try fixture.client()
        XCTAssertTrue(try client2.request("SUBMIT c1 k2 \(Fixture.body)").hasPrefix("OK SUBMIT k2"))
        let newJSON = try receiptJSON(client2, "k2") { $0["tlog_proof"] != nil }
        XCTAssertEqual(Self.cosignatures(newJSON), 0)
        XCTAssertEqual(newJSON["checkpoint"]?["origin"]?.stringValue, Self.origin)
        let newProof = try write(newJSON["tlog_proof"]!.stringValue!, "k2.tlog-proof")
        let newCheck = try TestDatabase.run(consultctl, ["receipt", "--check", newProof, "--log-key", vkeyPath, "--quorum", "0"])
        XCTAssertEqual(newCheck.status, 0, newCheck.stdout + newCheck.stderr)
        // The JSON form of the new receipt checks too, with either public key file.
        let newJSONFile = try write(newJSON.serialized, "k2.receipt.json")
        for keyFile in [publicKey, vkeyPath] {
            let checked = try TestDatabase.run(consultctl, ["receipt", "--check", newJSONFile, "--public-key", keyFile])
            XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
        }

        // The first-format receipt still verifies offline and against the log.
        let oldCheck = try TestDatabase.run(consultctl, ["receipt", "--check", oldReceipt, "--public-key", publicKey])
        XCTAssertEqual(oldCheck.status, 0, oldCheck.stdout + oldCheck.stderr)
        let verified = try ctl(["verify", "--public-key", vkeyPath, "--checkpoint", oldReceipt], fixture)
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        XCTAssertTrue(verified.stdout.contains("ok   every checkpoint is signed by key"), verified.stdout)
        // The first C2SP checkpoint is consistent with the last first-format one.
        let store = TreeStore(connection: fixture.store.connection)
        let all = try store.checkpoints()
        guard let lastOld = all.last(where: { $0.origin == nil }), let firstNew = all.first(where: { $0.origin != nil }) else {
            return XCTFail("expected both forms: \(all.map { ($0.size, $0.origin ?? "-") })")
        }
        XCTAssertLessThan(lastOld.size, firstNew.size)
        XCTAssertTrue(MerkleProofs.verifyConsistency(
            from: lastOld.size, to: firstNew.size, proof: try store.consistencyProof(from: lastOld.size, to: firstNew.size),
            oldRoot: lastOld.root, newRoot: firstNew.root))

        // Another origin is refused, with one line; without the flag the stored one is used.
        _ = try? client2.request("QUIT")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        XCTAssertThrowsError(try Fixture.startDaemon(fixture, ["--signing-key", key, "--log-origin", "other.test/log"])) {
            XCTAssertTrue("\($0)".contains("--log-origin other.test/log differs from this log's origin \(Self.origin)"), "\($0)")
        }
        try fixture.restartDaemon(arguments: ["--signing-key", key, "--checkpoint-interval", "0.2"])
        XCTAssertTrue(fixture.daemon.log.contains("origin=\(Self.origin)"), fixture.daemon.log)
        XCTAssertFalse(fixture.daemon.log.contains("no --log-origin"), fixture.daemon.log)
    }

    func testAWitnessThatIsDownDelaysNothing() throws {
        // Nothing listens on one witness's port: connections are refused at once. The other accepts
        // connections (the kernel completes them) but never answers: each request ends at its 5 s bound.
        let closed = try LoopbackPort.free()  // bound, then closed: nothing listens on it
        let silent = try LoopbackPort.silent()
        defer { close(silent.fd) }
        let w = try SignerKey.generate(name: "down.test/witness", type: .cosignatureV1).verifierKey.text
        let mute = try SignerKey.generate(name: "mute.test/witness", type: .cosignatureV1).verifierKey.text
        let fixture = try Fixture(daemonArguments: [
            "--signing-key", key, "--checkpoint-interval", "0.2", "--log-origin", Self.origin,
            "--witness", "\(w) http://127.0.0.1:\(closed)", "--witness", "\(mute) http://127.0.0.1:\(silent.port)", "--witness-quorum", "1",
        ])
        let client = try fixture.client()
        let started = Date()
        for index in 0..<20 {
            XCTAssertTrue(try client.request("SUBMIT c1 d\(index) \(Fixture.body)").hasPrefix("OK SUBMIT"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // Receipts still come, saying they have no cosignature.
        let json = try receiptJSON(client, "d19") { $0["tlog_proof"] != nil }
        XCTAssertEqual(Self.cosignatures(json), 0)
        XCTAssertTrue(fixture.daemon.waitForLog("witness did not cosign"), fixture.daemon.log)
        XCTAssertTrue(fixture.daemon.waitForLog("timed out", timeout: 20), fixture.daemon.log)
        XCTAssertTrue(fixture.daemon.log.contains("witness=mute.test/witness"), fixture.daemon.log)
        // Still nothing waits for them.
        let again = Date()
        XCTAssertTrue(try client.request("SUBMIT c1 late \(Fixture.body)").hasPrefix("OK SUBMIT"))
        XCTAssertLessThan(Date().timeIntervalSince(again), 1)
    }
}

extension Fixture {
    /// Starts another daemon on the fixture's database (throws with its log when it does not start).
    static func startDaemon(_ fixture: Fixture, _ arguments: [String]) throws -> Daemon {
        try Daemon(conninfo: fixture.conninfo, arguments: arguments)
    }
}
