import Crypto
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient
import TestSupport
import XCTest

@testable import Vault

/// Personal content as a data-protection officer checks it: never in the database in plaintext,
/// erasable for good, with the metrics and the log's proofs untouched.
final class PrivacyTests: XCTestCase {
    var consultctl = ""
    var folder: URL!

    override func setUpWithError() throws {
        consultctl = try TestDatabase.executable("consultctl")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("privacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: folder)
    }

    func ctl(_ arguments: [String], _ fixture: Fixture, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestDatabase.run(consultctl, arguments + ["--database", fixture.conninfo], environment: environment)
    }

    /// A PostgreSQL client program of the newest version installed.
    func postgres(_ program: String) throws -> String {
        let version = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }.last
        return version.map { "/usr/lib/postgresql/\($0)/bin/\(program)" } ?? "/usr/bin/\(program)"
    }

    /// A plain-text dump of the whole database, as a backup would hold it.
    func dump(_ fixture: Fixture) throws -> String {
        let dumped = try TestDatabase.run(try postgres("pg_dump"), ["--dbname", fixture.conninfo])
        XCTAssertEqual(dumped.status, 0, dumped.stderr)
        XCTAssertTrue(dumped.stdout.contains("COPY consult.events"), "the dump holds the log")
        return dumped.stdout
    }

    func status(_ client: LineClient, _ key: String) throws -> JSONValue {
        let reply = try client.request("STATUS c1 \(key)")
        XCTAssertTrue(reply.hasPrefix("OK STATUS "), reply)
        return try JSONParser().parse(String(reply.dropFirst("OK STATUS ".count)))
    }

    /// Metrics as JSON with the position they were computed at taken out: the numbers alone.
    func metrics(_ fixture: Fixture) throws -> String {
        let result = try ctl(["query", "metrics", "--format", "json"], fixture)
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.replacingOccurrences(of: #""position":[0-9]+"#, with: #""position":_"#, options: .regularExpression)
    }

    func testContentIsSealedAndErasureIsFinalWhileMetricsAndProofsStand() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        let marker = "MARKER-\(UUID().uuidString)"
        let body = Fixture.body.replacingOccurrences(of: "Schools need Arabic teachers.", with: "Our family in block 7 \(marker)")
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertTrue(try client.request("SUBMIT c1 k2 \(Fixture.body)").hasPrefix("OK SUBMIT k2"))
        XCTAssertTrue(try client.request("SUBMIT c1 k3 \(Fixture.body)").hasPrefix("OK SUBMIT k3"))
        XCTAssertTrue(try client.request(#"WITHDRAW c1 k3 {"reason": "moved away, \#(marker)"}"#).hasPrefix("OK WITHDRAW k3"))
        let feedback = try ctl(["feedback", "--consultation", "c1", "--organisation", "org-a", "--key", "k1", "--text", "Thank you \(marker)"], fixture)
        XCTAssertEqual(feedback.status, 0, feedback.stderr)
        // A retry of the sealed submission is a duplicate, not a conflict; other content is a conflict.
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("ERR CONFLICT"))

        // Nowhere in the database in plaintext: not in the log, not in the key tables.
        XCTAssertFalse(try dump(fixture).contains(marker), "the marker is in a plaintext pg_dump")
        // The organisation reads its feedback through the daemon, which opens it.
        var seen = try status(client, "k1")
        XCTAssertEqual(seen["content"], .string("kept"))
        XCTAssertEqual(seen["feedback"]?.arrayValue?.first?["text"], .string("Thank you \(marker)"))

        let before = try metrics(fixture)
        let erase = ["erase", "--organisation", "org-a", "--consultation", "c1", "--key", "k1", "--by", "dpo", "--reason", "request of the organisation"]
        let erased = try ctl(erase, fixture)
        XCTAssertEqual(erased.status, 0, erased.stderr)
        XCTAssertTrue(erased.stdout.hasPrefix("erased submission k1 of org-a in c1: the keys of 2 event(s) destroyed"), erased.stdout)
        let record = try fixture.store.read(stream: Streams.erasures)
        XCTAssertEqual(record.count, 1)
        guard case .contentErased(let what)? = try record.first?.decoded() else { return XCTFail("no ContentErased event") }
        XCTAssertEqual(what, ContentErased(organisation: "org-a", consultation: "c1", key: "k1", by: "dpo", reason: "request of the organisation", events: 2))
        XCTAssertFalse(record[0].data.contains(marker))

        seen = try status(client, "k1")
        XCTAssertEqual(seen["content"], .string("erased"))
        XCTAssertEqual(seen["feedback"]?.arrayValue?.first?["text"], .null)
        XCTAssertEqual(seen["feedback"]?.arrayValue?.first?["erased"], .bool(true))
        XCTAssertEqual(try status(client, "k2")["content"], .string("kept"), "another submission keeps its content")
        XCTAssertEqual(try metrics(fixture), before, "the metrics do not change")
        let verified = try ctl(["verify"], fixture)
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)

        // With the database and the master key together, nothing opens the erased content: its key is
        // gone, and no key left in the database opens its box.
        let vault = Vault(master: try MasterKey.load(TestDatabase.masterKeyFile))
        let stored = try fixture.store.read(stream: Streams.submission(organisation: "org-a", consultation: "c1", key: "k1"))
        let opened = try vault.open(stored, fixture.store.connection)
        guard case .submissionReceived(let submission) = try opened[0].decoded() else { return XCTFail("not a submission") }
        XCTAssertEqual(submission.text, .erased)
        XCTAssertEqual(try vault.openWithEveryKey(stored[0], fixture.store.connection), 0, "no stored key opens the erased content")
        XCTAssertGreaterThan(try fixture.store.connection.execute("SELECT count(*) AS n FROM consult.content_keys").first!.get("n", as: Int.self), 0)

        // Erasing again changes nothing and records nothing.
        let again = try ctl(erase, fixture)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("nothing left to erase"), again.stdout)
        XCTAssertEqual(try fixture.store.read(stream: Streams.erasures).count, 1)

        // A whole organisation: its withdrawal reason goes too.
        let all = try ctl(["erase", "--organisation", "org-a"], fixture)
        XCTAssertTrue(all.stdout.hasPrefix("erased all of org-a's content: the keys of 3 event(s) destroyed"), all.stdout)
        XCTAssertEqual(try status(client, "k2")["content"], .string("erased"))
    }

    func testAWrongOrLostMasterKeyIsOneClearLineAndRotationKeepsContent() throws {
        var fixture = try Fixture()
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertEqual(try ctl(["feedback", "--consultation", "c1", "--organisation", "org-a", "--key", "k1", "--text", "Noted."], fixture).status, 0)
        let other = folder.appendingPathComponent("other.key").path
        XCTAssertEqual(try TestDatabase.run(consultctl, ["keys", "generate-master", "--out", other]).status, 0)

        // A daemon given another key refuses to start, in one line that says what it means.
        let wrong = try TestDatabase.run(try TestDatabase.executable("consultd"), ["--database", fixture.conninfo, "--port", "0", "--master-key-file", other])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertEqual(wrong.stderr.filter { $0 == "\n" }.count, 1, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("seals none of the organisations' data keys"), wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("the metrics are not"), wrong.stderr)
        let missing = try TestDatabase.run(
            try TestDatabase.executable("consultd"), ["--database", fixture.conninfo, "--port", "0"], environment: ["CONSULT_MASTER_KEY_FILE": ""])
        XCTAssertEqual(missing.status, 1)

        // Rotation: the data keys are sealed under the new key as well, a daemon with the new key reads
        // the content, and the old key is retired.
        let rotated = try ctl(["keys", "rotate-master", "--master-key-file", TestDatabase.masterKeyFile, "--new-master-key-file", other], fixture)
        XCTAssertEqual(rotated.status, 0, rotated.stderr)
        XCTAssertTrue(rotated.stdout.hasPrefix("sealed 1 data key(s) under master key"), rotated.stdout)
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        try fixture.restartDaemon(arguments: ["--master-key-file", other])
        let reader = try fixture.client()
        let seen = try JSONParser().parse(String(try reader.request("STATUS c1 k1").dropFirst("OK STATUS ".count)))
        XCTAssertEqual(seen["feedback"]?.arrayValue?.first?["text"], .string("Noted."))
        XCTAssertTrue(try reader.request("SUBMIT c1 k2 \(Fixture.body)").hasPrefix("OK SUBMIT k2"))
        let oldID = try MasterKey.load(TestDatabase.masterKeyFile).id
        let retired = try ctl(["keys", "retire-master", "--id", oldID], fixture)
        XCTAssertEqual(retired.status, 0, retired.stderr)
        let stale = try TestDatabase.run(try TestDatabase.executable("consultd"), ["--database", fixture.conninfo, "--port", "0"])
        XCTAssertEqual(stale.status, 1, "the retired key opens nothing any more")
        XCTAssertTrue(stale.stderr.contains("seals none"), stale.stderr)
        // Retiring the only key that seals a data key is refused unless it is declared lost.
        let refused = try ctl(["keys", "retire-master", "--id", try MasterKey.load(other).id], fixture)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("rotate-master"), refused.stderr)
    }

    /// deploy/README.md's backups: the log and the keys in separate dumps; a restore of a key dump
    /// older than an erasure does not bring the erased content back once the erasures are replayed.
    func testRestoreKeepsErasuresFinal() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertTrue(try client.request("SUBMIT c1 k2 \(Fixture.body)").hasPrefix("OK SUBMIT k2"))
        let log = folder.appendingPathComponent("consult-log.dump").path
        let keys = folder.appendingPathComponent("consult-keys.dump").path
        // As documented: the log without the key tables' rows, and the key tables alone.
        for (file, arguments) in [
            (log, ["--exclude-table-data=consult.content_keys", "--exclude-table-data=consult.organisation_keys"]),
            (keys, ["--data-only", "--table=consult.content_keys", "--table=consult.organisation_keys"]),
        ] {
            let dumped = try TestDatabase.run(try postgres("pg_dump"), ["--format=custom", "--file=\(file)"] + arguments + ["--dbname", fixture.conninfo])
            XCTAssertEqual(dumped.status, 0, dumped.stderr)
        }
        XCTAssertEqual(try ctl(["erase", "--organisation", "org-a", "--consultation", "c1", "--key", "k1"], fixture).status, 0)
        XCTAssertTrue(try client.request("SUBMIT c1 k3 \(Fixture.body)").hasPrefix("OK SUBMIT k3"), "written after the erasure")
        let laterLog = folder.appendingPathComponent("consult-log-later.dump").path
        XCTAssertEqual(try TestDatabase.run(
            try postgres("pg_dump"), ["--format=custom", "--file=\(laterLog)", "--exclude-table-data=consult.content_keys",
                                       "--exclude-table-data=consult.organisation_keys", "--dbname", fixture.conninfo]).status, 0)

        // Restore the later log with the older keys: k1's key is back until the erasures are replayed.
        let restored = try TestDatabase.fresh(migrated: false)
        for (file, extra) in [(laterLog, [String]()), (keys, ["--data-only"])] {
            let result = try TestDatabase.run(try postgres("pg_restore"), extra + ["--dbname", restored, file])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let replayed = try TestDatabase.run(consultctl, ["erase", "--replay", "--database", restored])
        XCTAssertEqual(replayed.status, 0, replayed.stderr)
        XCTAssertEqual(replayed.stdout, "replayed the log's erasures: 1 restored key(s) destroyed again\n")
        let verified = try TestDatabase.run(consultctl, ["verify", "--database", restored])
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        let daemon = try Daemon(conninfo: restored)
        let reader = try LineClient(port: daemon.port)
        XCTAssertTrue(try reader.request("AUTH org-a \(fixture.tokens["org-a"]!)").hasPrefix("OK AUTH"))
        for (key, content) in [("k1", "erased"), ("k2", "kept"), ("k3", "erased")] {
            // k3 was written after the key dump: its key is in no backup, so it is lost with the restore.
            XCTAssertEqual(try status(reader, key)["content"], .string(content), key)
        }
    }

    func testRetentionErasesExactlyTheConsultationsPastTheirWindow() throws {
        let fixture = try Fixture()
        let opened = try ctl(
            ["consultation", "open", "--id", "c2", "--title", "Still open", "--convener", "UNHCR-JO", "--closes-at", "2099-01-01T00:00:00Z",
             "--stages", "design", "--languages", "ar",
             "--baseline", #"{"gender": {"female": 0.5, "male": 0.5}, "age": {"18-24": 0.3, "25-59": 0.6, "60+": 0.1}}"#], fixture)
        XCTAssertEqual(opened.status, 0, opened.stderr)
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        let second = try client.request("SUBMIT c2 k1 \(Fixture.body)")
        XCTAssertTrue(second.hasPrefix("OK SUBMIT k1"), second)
        XCTAssertEqual(try ctl(["consultation", "close", "--id", "c1"], fixture).status, 0)
        let policy = folder.appendingPathComponent("policy.json").path
        try #"{"retention_days_after_close": 30}"#.write(toFile: policy, atomically: true, encoding: .utf8)

        // Closed today: not yet past 30 days; 31 days on, it is, and c2 (open) is not.
        let early = try ctl(["retention", "apply", "--policy", policy], fixture)
        XCTAssertEqual(early.status, 0, early.stderr)
        XCTAssertTrue(early.stdout.hasPrefix("nothing to erase"), early.stdout)
        let later = Timestamps.format(Date().addingTimeInterval(31 * 86_400))
        let applied = try ctl(["retention", "apply", "--policy", policy, "--at", later], fixture)
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(applied.stdout.split(separator: "\n").count, 1, applied.stdout)
        XCTAssertTrue(applied.stdout.hasPrefix("erased the content of 1 event(s) of consultation c1, closed "), applied.stdout)
        XCTAssertEqual(try status(client, "k1")["content"], .string("erased"))
        let c2 = try JSONParser().parse(String(try client.request("STATUS c2 k1").dropFirst("OK STATUS ".count)))
        XCTAssertEqual(c2["content"], .string("kept"))
        let record = try fixture.store.read(stream: Streams.erasures)
        guard case .contentErased(let what)? = try record.last?.decoded() else { return XCTFail("no ContentErased event") }
        XCTAssertEqual(what.by, "retention")
        XCTAssertEqual(what.consultation, "c1")
        XCTAssertNil(what.organisation)
        // Applied again (cron tomorrow): nothing more, and --quiet says nothing.
        let quiet = try ctl(["retention", "apply", "--policy", policy, "--at", later, "--quiet"], fixture)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout, "")
        XCTAssertEqual(try fixture.store.read(stream: Streams.erasures).count, 1)
    }
}

extension Vault {
    /// How many (content key, data key) pairs stored in the database open `event`'s sealed content:
    /// what an attacker with the database and this master key could try.
    func openWithEveryKey(_ event: RecordedEvent, _ connection: Connection) throws -> Int {
        let path = PersonalContent.paths[event.type]!
        guard case .sealed(let box)? = try JSONParser.eventData.parse(event.data).value(at: path).flatMap(PersonalText.init(json:)),
            let boxBytes = Data(base64Encoded: box)
        else { return 0 }
        let dataKeys = try KeyStore(connection: connection).allDataKeys().filter { $0.masterKeyID == master.id }.map {
            SymmetricKey(data: try Sealing.open($0.wrapped, key: master.key, context: Sealing.organisationKeyContext(id: $0.id, organisation: $0.organisation)))
        }
        var opened = 0
        for row in try connection.execute("SELECT event_id, encode(wrapped, 'base64') AS wrapped FROM consult.content_keys").rows {
            let wrapped = try KeyStore.wrapped(row)
            for dataKey in dataKeys {
                guard let raw = try? Sealing.open(wrapped, key: dataKey, context: Sealing.contentKeyContext(event: try row.get("event_id"))) else { continue }
                if (try? Sealing.open(boxBytes, key: SymmetricKey(data: raw), context: Sealing.contentContext(event: event.eventID, path: path))) != nil {
                    opened += 1
                }
            }
        }
        return opened
    }
}
