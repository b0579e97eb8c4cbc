import Foundation
import Merkle
import TestSupport
import Transparency
import Witness
import XCTest

/// `consultctl witness serve` as a real process on a loopback port, fed a test log's checkpoints.
final class WitnessProcessTests: XCTestCase {
    var folder = ""
    var witnessVKey: VerifierKey!

    override func setUpWithError() throws {
        folder = try temporaryFolder()
        let generated = try runConsultctl(["keys", "generate-witness", "--name", "witness.test/w1", "--out", folder])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        witnessVKey = try VerifierKey(parsing: generated.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Starts a witness on `folder/state.json`: with `--new-state` (the default) for its first
    /// start, without it for a restart on the state an earlier start left.
    func start(logs: [TestLog], extra: [String] = [], newState: Bool = true) throws -> WitnessProcess {
        try WitnessProcess(arguments: ["--key", folder + "/witness.key", "--state", folder + "/state.json"] + logs.flatMap { ["--log", $0.vkey] }
                           + (newState ? ["--new-state"] : []) + extra)
    }

    /// The exit status and output of a witness that must refuse to start (a test failure if it listens).
    func refusal(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) -> WitnessDidNotStart? {
        do {
            let witness = try WitnessProcess(arguments: ["--key", folder + "/witness.key"] + arguments)
            XCTFail("the witness started:\n\(witness.log)", file: file, line: line)
            witness.kill9()
            return nil
        } catch let refused as WitnessDidNotStart {
            XCTAssertEqual(refused.exitStatus, 1, refused.output, file: file, line: line)
            XCTAssertEqual(refused.output.split(separator: "\n").count, 1, refused.output, file: file, line: line)
            XCTAssertTrue(refused.output.hasPrefix("consultctl: "), refused.output, file: file, line: line)
            return refused
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func add(_ witness: WitnessProcess, _ body: [UInt8], tls: TLSClientConfiguration? = nil) throws -> HTTPAnswer {
        try HTTP.request(port: witness.port, path: "/add-checkpoint", body: body, tls: tls)
    }

    /// Checks that `answer` is a cosignature of `note` by the witness.
    func assertCosigned(_ answer: HTTPAnswer, _ note: SignedNote, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(answer.status, 200, answer.body, file: file, line: line)
        do {
            let cosigned = try SignedNote(parsing: note.serialized + answer.body)
            XCTAssertEqual(try cosigned.verify([witnessVKey.verifier]), [0], file: file, line: line)
        } catch {
            XCTFail("the answer is not a cosignature: \(error): \(answer.body)", file: file, line: line)
        }
    }

    func testKeysGenerateWitnessWritesASecretKeyAndItsVKey() throws {
        let key = try SignerKey(parsing: try String(contentsOfFile: folder + "/witness.key", encoding: .utf8))
        XCTAssertEqual(key.type, .cosignatureV1)
        XCTAssertEqual(key.verifierKey, witnessVKey)
        XCTAssertEqual(try String(contentsOfFile: folder + "/witness.vkey", encoding: .utf8), witnessVKey.text + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: folder + "/witness.key")[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
        let again = try runConsultctl(["keys", "generate-witness", "--name", "witness.test/w1", "--out", folder])
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr.split(separator: "\n").count, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("exists"))
        let badName = try runConsultctl(["keys", "generate-witness", "--name", "bad name", "--out", try temporaryFolder()])
        XCTAssertEqual(badName.status, 1)
        XCTAssertTrue(badName.stderr.hasPrefix("consultctl: "), badName.stderr)
    }

    func testAWitnessCosignsAGrowingLogAndRefusesWhatTheSpecSaysItMust() throws {
        var log = try TestLog(origin: "log.test/growing")
        let witness = try start(logs: [log])

        // The first checkpoint, from 0.
        log.grow(to: 3)
        assertCosigned(try add(witness, try log.body(old: 0)), try log.signedNote())
        // Growth with a consistency proof.
        log.grow(to: 10)
        assertCosigned(try add(witness, try log.body(old: 3)), try log.signedNote())

        // A wrong old size: 409, and the witness's size as text/x.tlog.size.
        log.grow(to: 12)
        var answer = try add(witness, try log.body(old: 3))
        XCTAssertEqual(answer.status, 409)
        XCTAssertEqual(answer.headers["content-type"], "text/x.tlog.size")
        XCTAssertEqual(answer.body, "10\n")

        // A fork: same size, other root; then a bigger tree that does not extend the cosigned one.
        var fork = try TestLog(origin: "log.test/growing", salt: "fork-", key: log.key)
        fork.grow(to: 10)
        XCTAssertEqual(try add(witness, try fork.body(old: 10, size: 10)).status, 422)
        // The fork, signed by the log, is in the witness's log as evidence (one line).
        let forkRoot = Base64.encode(fork.checkpoint().root.bytes)
        XCTAssertTrue(witness.waitForLog("evidence=\"log.test/growing\\n10\\n\(forkRoot)\\n\\n\u{2014} log.test/growing "), witness.log)
        fork.grow(to: 14)
        XCTAssertEqual(try add(witness, try fork.body(old: 10)).status, 422)
        XCTAssertEqual(try add(witness, AddCheckpointRequest.body(oldSize: 10, proof: log.proof(from: 10, to: 12), note: try fork.signedNote(size: 12))).status, 422)

        // A rollback to a smaller tree, claimed from the witness's size or from its own.
        XCTAssertEqual(try add(witness, AddCheckpointRequest.body(oldSize: 10, proof: [], note: try log.signedNote(size: 5))).status, 400)
        answer = try add(witness, try log.body(old: 5, size: 5))
        XCTAssertEqual(answer.status, 409)
        XCTAssertEqual(answer.body, "10\n")

        // An unknown origin, a bad signature, a malformed body.
        var stranger = try TestLog(origin: "log.test/stranger")
        stranger.grow(to: 2)
        XCTAssertEqual(try add(witness, try stranger.body(old: 0)).status, 404)
        var forged = try log.signedNote()
        forged.signatures[0].signature[5] ^= 0x20
        XCTAssertEqual(try add(witness, AddCheckpointRequest.body(oldSize: 10, proof: log.proof(from: 10), note: forged)).status, 403)
        let impostor = try SignerKey.generate(name: "log.test/growing")
        let foreign = try impostor.sign(SignedNote(text: log.checkpoint().text))
        XCTAssertEqual(try add(witness, AddCheckpointRequest.body(oldSize: 10, proof: log.proof(from: 10), note: foreign)).status, 403)
        XCTAssertEqual(try add(witness, Array("old 10\nnot base64\n\n".utf8)).status, 400)
        XCTAssertEqual(try add(witness, Array("hello\n".utf8)).status, 400)

        // Nothing moved: the state file and the monitoring path both say 10.
        let state = try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/state.json")))
        XCTAssertEqual(state.logs["log.test/growing"]?.size, 10)
        let monitored = try HTTP.request(port: witness.port, method: "GET", path: "/\(AddCheckpoint.originHash("log.test/growing"))/checkpoint")
        XCTAssertEqual(monitored.status, 200)
        let note = try SignedNote(parsing: monitored.body)
        XCTAssertEqual(try Checkpoint(text: note.text).size, 10)
        XCTAssertEqual(try note.verify([log.key.verifierKey.verifier, witnessVKey.verifier]), [0, 1])

        // The honest log goes on from 10.
        assertCosigned(try add(witness, try log.body(old: 10)), try log.signedNote())

        // One log line per request, none with a secret.
        XCTAssertTrue(witness.waitForLog("cosigned size 12 (from 10)"))
        // Evidence only for the same-size fork: not for the replayed smaller checkpoint (anyone can
        // replay what the log once signed) nor for the failed proofs (the client's, unsigned).
        XCTAssertEqual(witness.log.components(separatedBy: "evidence=").count - 1, 1, witness.log)
        let requestLines = witness.log.split(separator: "\n").filter { $0.contains(" request ") }
        XCTAssertEqual(requestLines.count, 15, witness.log)
        XCTAssertTrue(requestLines.allSatisfy { $0.contains(" info ") })
        let secret = try String(contentsOfFile: folder + "/witness.key", encoding: .utf8).split(separator: "+").last!.trimmingCharacters(in: .newlines)
        XCTAssertFalse(witness.log.contains(secret))
        XCTAssertFalse(witness.log.contains("PRIVATE"))
    }

    func testTheStateSurvivesARestartOfTheWitness() throws {
        var log = try TestLog(origin: "log.test/restart")
        var witness = try start(logs: [log])
        log.grow(to: 4)
        assertCosigned(try add(witness, try log.body(old: 0)), try log.signedNote())
        witness.kill9()

        witness = try start(logs: [log], newState: false)
        XCTAssertFalse(witness.log.contains("NEW STATE"), witness.log)
        log.grow(to: 9)
        // A client that forgot starts from 0 and learns the size.
        let answer = try add(witness, try log.body(old: 0))
        XCTAssertEqual(answer.status, 409)
        XCTAssertEqual(answer.body, "4\n")
        // A fork of the restarted witness's checkpoint is still refused.
        var fork = try TestLog(origin: "log.test/restart", salt: "other-", key: log.key)
        fork.grow(to: 4)
        XCTAssertEqual(try add(witness, try fork.body(old: 4, size: 4)).status, 422)
        assertCosigned(try add(witness, try log.body(old: 4)), try log.signedNote())
        witness.kill9()

        witness = try start(logs: [log], newState: false)
        XCTAssertEqual(try add(witness, try log.body(old: 4)).body, "9\n")
    }

    func testTwoLogsAreKeptApartAndTheServerIsBounded() throws {
        var a = try TestLog(origin: "log.test/a")
        var b = try TestLog(origin: "log.test/b")
        let witness = try start(logs: [a, b])
        a.grow(to: 7)
        b.grow(to: 2)
        assertCosigned(try add(witness, try a.body(old: 0)), try a.signedNote())
        assertCosigned(try add(witness, try b.body(old: 0)), try b.signedNote())
        b.grow(to: 3)
        XCTAssertEqual(try add(witness, try b.body(old: 1)).body, "2\n")
        XCTAssertEqual(try add(witness, try b.body(old: 7)).status, 400)  // old larger than the checkpoint
        // Over 256 KiB: refused before it is read whole.
        let big = [UInt8](repeating: 0x41, count: 256 * 1024 + 1)
        XCTAssertEqual(try add(witness, big).status, 413)
        // A checkpoint with 20 more signatures of 5 kB each (post-quantum sized; signed-note has
        // verifiers accept at least 16), about 135 KiB: accepted, the unknown signatures ignored.
        var heavy = try b.signedNote()
        for number in 0..<20 {
            heavy.signatures.append(NoteSignature(name: "pq.test/\(number)", keyID: UInt32(number), signature: (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ number) }))
        }
        XCTAssertGreaterThan(heavy.serialized.utf8.count, 128 * 1024)
        assertCosigned(try add(witness, AddCheckpointRequest.body(oldSize: 2, proof: b.proof(from: 2), note: heavy)), try b.signedNote())
        b.grow(to: 4)
        // Other methods and paths.
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "GET", path: "/add-checkpoint").status, 405)
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "POST", path: "/elsewhere").status, 404)
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "GET", path: "/\(AddCheckpoint.originHash("log.test/none"))/checkpoint").status, 404)
        // A client that sends half a request and stalls is cut off at the request timeout (1 s here
        // would need its own witness; the default is 10 s), while others are served meanwhile.
        let stalled = try LineClient(port: witness.port, readGreeting: false, timeout: 30)
        try stalled.send(bytes: Array("POST /add-checkpoint HTTP/1.1\r\nContent-Length: 100\r\n\r\nold".utf8))
        assertCosigned(try add(witness, try b.body(old: 3)), try b.signedNote())
        // Expect: 100-continue (curl sends it for bodies over 1 KiB): the body follows the interim answer.
        a.grow(to: 300)
        let continued = try LineClient(port: witness.port, readGreeting: false, timeout: 20)
        let long = try a.body(old: 7)
        try continued.send(bytes: Array("POST /add-checkpoint HTTP/1.1\r\nContent-Length: \(long.count)\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n".utf8))
        XCTAssertEqual(try continued.readLine(), "HTTP/1.1 100 Continue\r")
        XCTAssertEqual(try continued.readLine(), "\r")
        try continued.send(bytes: long)
        assertCosigned(try HTTP.parse(continued.readAll()), try a.signedNote())
        // Keep-alive: two requests on one connection, answered in order.
        let client = try LineClient(port: witness.port, readGreeting: false, timeout: 20)
        a.grow(to: 301)
        let first = try a.body(old: 300)
        let path = "/\(AddCheckpoint.originHash("log.test/a"))/checkpoint"
        try client.send(bytes: Array("POST /add-checkpoint HTTP/1.1\r\nContent-Length: \(first.count)\r\n\r\n".utf8) + first
                        + Array("GET \(path) HTTP/1.1\r\nConnection: close\r\n\r\n".utf8))
        let lines = try client.readAll()
        XCTAssertEqual(lines.filter { $0.hasPrefix("HTTP/1.1 ") }, ["HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r"])
    }

    func testARequestThatStallsIsCutOffAtTheTimeout() throws {
        var log = try TestLog(origin: "log.test/slow")
        let witness = try start(logs: [log], extra: ["--request-timeout", "1"])
        let stalled = try LineClient(port: witness.port, readGreeting: false, timeout: 30)
        try stalled.send(bytes: Array("POST /add-checkpoint HTTP/1.1\r\nContent-Length: 100\r\n\r\nold".utf8))
        let started = Date()
        // The witness closes the connection without an answer: nothing is read but the end.
        XCTAssertEqual(try stalled.readAll(), [])
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        log.grow(to: 1)
        assertCosigned(try add(witness, try log.body(old: 0)), try log.signedNote())
    }

    func testAKeyFileOthersCanReadIsWarnedAbout() throws {
        let log = try TestLog(origin: "log.test/mode")
        XCTAssertEqual(chmod(folder + "/witness.key", 0o644), 0)
        let witness = try start(logs: [log])
        XCTAssertTrue(witness.log.contains("warning"))
        XCTAssertTrue(witness.log.contains("witness.key is readable or writable by others (mode 644)"), witness.log)
    }

    func testConnectionsBeyondTheBoundAreClosedAtOnce() throws {
        let log = try TestLog(origin: "log.test/bounded")
        let witness = try start(logs: [log], extra: ["--max-connections", "1"])
        // One client holds the only slot with half a request (until the 10 s request timeout)...
        let holder = try LineClient(port: witness.port, readGreeting: false, timeout: 30)
        try holder.send(bytes: Array("POST /add-checkpoint HTTP/1.1\r\nContent-Length: 10\r\n\r\nold".utf8))
        // ...so the next is closed at accept, without an answer and without waiting for the timeout.
        let started = Date()
        let refused = try LineClient(port: witness.port, readGreeting: false, timeout: 30)
        XCTAssertEqual(try refused.readAll(), [])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(witness.waitForLog("connection refused: 1 connections open"))
        _ = holder
    }

    func testOverTLS() throws {
        let certificates = try TestCertificates.shared()
        var log = try TestLog(origin: "log.test/tls")
        let witness = try start(logs: [log], extra: ["--tls-cert", certificates.server.certificate, "--tls-key", certificates.server.key])
        XCTAssertTrue(witness.log.contains("tls=true"))
        log.grow(to: 5)
        let tls = try TLSClientConfiguration(caFile: certificates.ca)
        assertCosigned(try add(witness, try log.body(old: 0), tls: tls), try log.signedNote())
        log.grow(to: 6)
        assertCosigned(try add(witness, try log.body(old: 5), tls: tls), try log.signedNote())
        // In the clear, a TLS port answers nothing.
        XCTAssertThrowsError(try HTTP.request(port: witness.port, path: "/add-checkpoint", body: try log.body(old: 6)))
    }

    func testALostStateFileStopsTheWitnessAndNewStateNeverOverwrites() throws {
        let log = try TestLog(origin: "log.test/new-state")
        let state = folder + "/state.json"
        // The first start, as the issue names the command (no --new-state): the new, empty state is on
        // disk at once and said so loudly.
        var witness = try start(logs: [log], newState: false)
        XCTAssertTrue(witness.log.split(separator: "\n").contains { $0.contains("NEW STATE") && $0.contains(" warning ") }, witness.log)
        let written = try Data(contentsOf: URL(fileURLWithPath: state))
        XCTAssertEqual(try JSONDecoder().decode(WitnessState.self, from: written), WitnessState())
        witness.kill9()
        // The state lost (deleted, or the volume holding it restored without it) while its lock file
        // stays: no witness that would cosign anything from old 0.
        try FileManager.default.moveItem(atPath: state, toPath: state + ".away")
        let missing = refusal(["--log", log.vkey, "--state", state])
        XCTAssertTrue(missing?.output.contains("--new-state") ?? false, missing?.output ?? "")
        XCTAssertTrue(missing?.output.contains("fork") ?? false, missing?.output ?? "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state))
        try FileManager.default.moveItem(atPath: state + ".away", toPath: state)
        // --new-state on a state that exists: refused, the file untouched.
        let existing = refusal(["--log", log.vkey, "--state", state, "--new-state"])
        XCTAssertTrue(existing?.output.contains("exists") ?? false, existing?.output ?? "")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: state)), written)
        // A restart without it uses the file.
        witness = try start(logs: [log], newState: false)
        XCTAssertFalse(witness.log.contains("NEW STATE"), witness.log)
    }

    func testAStateFileWithAnUnsoundRecordStopsTheWitnessNamingTheLogAndTheField() throws {
        var log = try TestLog(origin: "log.test/sound")
        var witness = try start(logs: [log])
        log.grow(to: 3)
        assertCosigned(try add(witness, try log.body(old: 0)), try log.signedNote())
        witness.kill9()
        let path = folder + "/state.json"
        var state = try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        // A cosignature time over 2^63 - 1 would stop the witness at the log's next request: refused at start.
        state.logs["log.test/sound"]!.cosignedAt = UInt64(Int64.max) + 1
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: path))
        let refused = refusal(["--log", log.vkey, "--state", path])
        XCTAssertTrue(refused?.output.contains("log \"log.test/sound\"") ?? false, refused?.output ?? "")
        XCTAssertTrue(refused?.output.contains("cosigned_at") ?? false, refused?.output ?? "")
        state.logs["log.test/sound"]!.cosignedAt = UInt64(Int64.max)
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: path))
        witness = try start(logs: [log], newState: false)
        XCTAssertEqual(try add(witness, try log.body(old: 0)).body, "3\n")
    }

    func testKeysGenerateWitnessNeverWritesThroughAFileOrLinkThatAppeared() throws {
        // A link planted where the key goes (pointing at a file that does not exist yet): not followed,
        // not replaced, nothing written.
        let out = try temporaryFolder()
        let target = out + "/elsewhere"
        XCTAssertEqual(symlink(target, out + "/witness.key"), 0)
        let result = try runConsultctl(["keys", "generate-witness", "--name", "witness.test/w2", "--out", out])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("witness.key exists"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/witness.key"), target)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/witness.vkey"))
        // The same for the vkey: the private key written a moment before is not left behind.
        let second = try temporaryFolder()
        XCTAssertEqual(symlink(second + "/elsewhere", second + "/witness.vkey"), 0)
        let again = try runConsultctl(["keys", "generate-witness", "--name", "witness.test/w2", "--out", second])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: second + "/witness.key"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: second + "/elsewhere"))
    }

    func testTheClientsMethodAndPathAreEscapedAndBoundedInTheLog() throws {
        let log = try TestLog(origin: "log.test/escape")
        let witness = try start(logs: [log])
        // A terminal escape and a bidi override in the path, and a path of 4000 bytes.
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "GET", path: "/x\u{1b}[31mred\u{202e}").status, 404)
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "GET", path: "/" + String(repeating: "a", count: 4000) + "END").status, 404)
        XCTAssertEqual(try HTTP.request(port: witness.port, method: "P\u{7}ST", path: "/add-checkpoint").status, 405)
        XCTAssertTrue(witness.waitForLog("method=P\\u{7}ST"), witness.log)
        XCTAssertTrue(witness.log.contains("path=/x\\u{1b}[31mred\\u{202e} status=404"), witness.log)
        XCTAssertFalse(witness.log.contains("\u{1b}"))
        XCTAssertFalse(witness.log.contains("\u{202e}"))
        XCTAssertFalse(witness.log.contains("\u{7}"))
        XCTAssertFalse(witness.log.contains("END"))
        let long = witness.log.split(separator: "\n").first { $0.contains("path=/aaaa") }
        XCTAssertLessThan(long?.utf8.count ?? .max, 600, String(long ?? ""))
    }

    func testBadArgumentsGiveOneLineAndExit1() throws {
        let log = try TestLog(origin: "log.test/args")
        let cases: [[String]] = [
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.key", "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "nowhere", "--key", folder + "/witness.key", "--log", log.vkey, "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/missing.key", "--log", log.vkey, "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.vkey", "--log", log.vkey, "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.key", "--log", "not-a-vkey", "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.key", "--log", witnessVKey.text, "--state", folder + "/s.json"],
            ["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.key", "--log", log.vkey, "--state", folder + "/s.json",
             "--tls-cert", folder + "/none.pem"],
        ]
        for arguments in cases {
            let result = try runConsultctl(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("consultctl: "), result.stderr)
        }
        // A second witness on the same state file is refused while the first runs.
        let first = try start(logs: [log])
        XCTAssertFalse(first.log.contains("readable or writable by others"))
        let second = try runConsultctl(["witness", "serve", "--listen", "127.0.0.1:0", "--key", folder + "/witness.key", "--log", log.vkey,
                                        "--state", folder + "/state.json"])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.stderr.contains("in use by another witness"), second.stderr)
        first.kill9()
    }
}
