import Foundation
import Merkle
import Transparency
@testable import Witness
import TestSupport
import XCTest

/// The add-checkpoint decision as pure code: no files, no sockets.
final class DecisionTests: XCTestCase {
    let witnessKey = try! SignerKey.generate(name: "witness.example/w1", type: .cosignatureV1)
    var cosigner: Cosigner { Cosigner(key: witnessKey) }

    /// Runs one decision against `state` and applies its record, as the store does.
    func decide(_ body: [UInt8], logs: [TestLog], state: inout WitnessState, now: UInt64 = 1_800_000_000) -> AddCheckpoint.Decision {
        let trusted = Dictionary(grouping: logs.map(\.key.verifierKey), by: \.name)
        let decision = AddCheckpoint.decide(body: body, logs: trusted, record: { state.logs[$0] }, cosigner: cosigner, now: now)
        if let record = decision.newRecord, let origin = decision.origin { state.logs[origin] = record }
        return decision
    }

    func testAFirstCheckpointIsCosignedAndTheCosignatureVerifiesWithTheWitnessVKey() throws {
        var log = try TestLog(origin: "log.example/one")
        log.grow(to: 5)
        var state = WitnessState()
        let decision = decide(try log.body(old: 0), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 200, decision.response.text)
        XCTAssertEqual(decision.newRecord?.size, 5)
        let lines = decision.response.text
        XCTAssertTrue(lines.hasPrefix("\u{2014} witness.example/w1 ") && lines.hasSuffix("\n"))
        // The client's way: the response appended to the checkpoint, verified with the witness's vkey.
        let cosigned = try SignedNote(parsing: try log.signedNote().serialized + lines)
        let vkey = try VerifierKey(parsing: cosigner.verifierKey.text)
        XCTAssertEqual(try cosigned.verify([vkey.verifier]), [0])
        XCTAssertEqual(Cosignature.timestamp(of: cosigned.signatures[1].signature), 1_800_000_000)
        XCTAssertEqual(state.logs["log.example/one"]?.size, 5)
    }

    func testGrowthWithAConsistencyProofIsCosignedAndMovesTheState() throws {
        var log = try TestLog(origin: "log.example/grow")
        var state = WitnessState()
        var previous: Int64 = 0
        for size: Int64 in [1, 2, 3, 4, 7, 8, 9, 16, 17, 100] {
            log.grow(to: size)
            let decision = decide(try log.body(old: previous), logs: [log], state: &state)
            XCTAssertEqual(decision.response.status, 200, "\(previous) -> \(size): \(decision.response.text)")
            XCTAssertEqual(state.logs[log.key.name]?.size, size)
            previous = size
        }
        // The same checkpoint again (old = size, same root) is cosigned again, and with a clock
        // stepped back its timestamp is not earlier than the last one.
        let again = decide(try log.body(old: 100), logs: [log], state: &state, now: 1_700_000_000)
        XCTAssertEqual(again.response.status, 200)
        XCTAssertEqual(again.newRecord?.cosignedAt, 1_800_000_000)
        let line = try SignedNote(parsing: try log.signedNote().serialized + again.response.text).signatures[1]
        XCTAssertEqual(Cosignature.timestamp(of: line.signature), 1_800_000_000)
    }

    func testAWrongOldSizeGets409WithTheWitnessSizeAsTextXTlogSize() throws {
        var log = try TestLog(origin: "log.example/conflict")
        log.grow(to: 5)
        var state = WitnessState()
        _ = decide(try log.body(old: 0), logs: [log], state: &state)
        log.grow(to: 9)
        for old: Int64 in [0, 3, 8] {
            let decision = decide(try log.body(old: old), logs: [log], state: &state)
            XCTAssertEqual(decision.response.status, 409)
            XCTAssertEqual(decision.response.contentType, "text/x.tlog.size")
            XCTAssertEqual(decision.response.text, "5\n")
            XCTAssertNil(decision.newRecord)
        }
        XCTAssertEqual(state.logs[log.key.name]?.size, 5)
    }

    func testForksAndBadProofsGet422AndTheStateDoesNotMove() throws {
        var log = try TestLog(origin: "log.example/fork")
        log.grow(to: 10)
        var state = WitnessState()
        _ = decide(try log.body(old: 0), logs: [log], state: &state)
        let before = state
        // Same key, other entries: a split view.
        var fork = try TestLog(origin: "log.example/fork", salt: "fork-", key: log.key)
        fork.grow(to: 10)
        var decision = decide(try fork.body(old: 10, size: 10), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 422, decision.response.text)
        XCTAssertEqual(decision.evidence, try fork.signedNote(size: 10))  // signed by the log: kept as evidence
        // A bigger forked tree, with the fork's own (valid for the fork) proof from 10.
        fork.grow(to: 15)
        decision = decide(try fork.body(old: 10), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 422)
        XCTAssertNil(decision.evidence)  // the proof is the client's, unsigned: it proves nothing
        // The honest tree with a damaged proof, no proof, and an extra hash.
        log.grow(to: 15)
        var proof = log.proof(from: 10)
        proof[0] = MerkleHash.leaf([1])
        for bad in [proof, [], log.proof(from: 10) + [MerkleHash.empty]] {
            decision = decide(AddCheckpointRequest.body(oldSize: 10, proof: bad, note: try log.signedNote()), logs: [log], state: &state)
            XCTAssertEqual(decision.response.status, 422)
            XCTAssertNil(decision.evidence)  // an honest checkpoint with a bad proof is no evidence against the log
        }
        // Equal sizes with a proof.
        decision = decide(AddCheckpointRequest.body(oldSize: 10, proof: [MerkleHash.empty], note: try log.signedNote(size: 10)), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 422)
        XCTAssertEqual(state, before)
        // The honest growth still goes through.
        XCTAssertEqual(decide(try log.body(old: 10), logs: [log], state: &state).response.status, 200)
    }

    func testARollbackIsRefused() throws {
        var log = try TestLog(origin: "log.example/rollback")
        log.grow(to: 12)
        var state = WitnessState()
        _ = decide(try log.body(old: 0), logs: [log], state: &state)
        // Claiming the witness's size, with a smaller checkpoint: old > size is malformed.
        var decision = decide(AddCheckpointRequest.body(oldSize: 12, proof: [], note: try log.signedNote(size: 5)), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 400)
        // The log did sign size 5 once: anyone can replay it, so it is no evidence of a rollback.
        XCTAssertNil(decision.evidence)
        // Claiming the smaller size: not the witness's.
        decision = decide(try log.body(old: 5, size: 5), logs: [log], state: &state)
        XCTAssertEqual(decision.response.status, 409)
        XCTAssertEqual(decision.response.text, "12\n")
        XCTAssertEqual(state.logs[log.key.name]?.size, 12)
    }

    func testUnknownOriginIs404AndBadSignaturesAre403() throws {
        var log = try TestLog(origin: "log.example/known")
        log.grow(to: 3)
        var stranger = try TestLog(origin: "log.example/stranger")
        stranger.grow(to: 3)
        var state = WitnessState()
        XCTAssertEqual(decide(try stranger.body(old: 0), logs: [log], state: &state).response.status, 404)
        // The right origin signed by another key: no trusted signature.
        let impostor = try TestLog(origin: "log.example/known")
        var forged = try impostor.key.sign(SignedNote(text: log.checkpoint().text))
        XCTAssertEqual(decide(AddCheckpointRequest.body(oldSize: 0, proof: [], note: forged), logs: [log], state: &state).response.status, 403)
        // The log's key with a damaged signature.
        forged = try log.signedNote()
        forged.signatures[0].signature[0] ^= 1
        XCTAssertEqual(decide(AddCheckpointRequest.body(oldSize: 0, proof: [], note: forged), logs: [log], state: &state).response.status, 403)
        // A good signature beside a bad one by the same key.
        var mixed = try log.signedNote()
        mixed.signatures.append(forged.signatures[0])
        XCTAssertEqual(decide(AddCheckpointRequest.body(oldSize: 0, proof: [], note: mixed), logs: [log], state: &state).response.status, 403)
        XCTAssertEqual(state, WitnessState())
        // Unknown extra signatures are ignored.
        var extra = try log.signedNote()
        extra = try impostor.key.sign(extra)
        XCTAssertEqual(decide(AddCheckpointRequest.body(oldSize: 0, proof: [], note: extra), logs: [log], state: &state).response.status, 200)
        // What monitors get keeps only the trusted log signature and the cosignature.
        let kept = try SignedNote(parsing: state.logs[log.key.name]!.checkpoint)
        XCTAssertEqual(kept.signatures.map(\.name), ["log.example/known", "witness.example/w1"])
        XCTAssertEqual(kept.signatures[0], extra.signatures[0])
    }

    func testTheSpecsExampleRequestBodyParses() throws {
        // c2sp.org/tlog-witness, "add-checkpoint", the example request body.
        let body = """
            old 20852014
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

            example.com/behind-the-sofa
            20852163
            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
            — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=

            """
        let request = try AddCheckpointRequest(body: Array(body.utf8))
        XCTAssertEqual(request.oldSize, 20_852_014)
        XCTAssertEqual(request.proof.map { Base64.encode($0.bytes) }.last, "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=")
        XCTAssertEqual(request.proof.count, 4)
        XCTAssertEqual(request.checkpoint.origin, "example.com/behind-the-sofa")
        XCTAssertEqual(request.checkpoint.size, 20_852_163)
        XCTAssertEqual(request.note.signatures.count, 2)
        XCTAssertEqual(AddCheckpointRequest.body(oldSize: request.oldSize, proof: request.proof, note: request.note), Array(body.utf8))
        // Its log is not one this witness knows.
        var state = WitnessState()
        XCTAssertEqual(decide(Array(body.utf8), logs: [], state: &state).response.status, 404)
    }

    func testMalformedBodiesGet400() throws {
        var log = try TestLog(origin: "log.example/malformed")
        log.grow(to: 4)
        let note = try log.signedNote().serialized
        let hash = Base64.encode(MerkleHash.empty.bytes)
        let bodies = [
            "",
            "old 0",
            "old 0\n",
            "old 01\n\n\(note)",
            "old -1\n\n\(note)",
            "new 0\n\n\(note)",
            "old 0\n\(note)",
            "old 0\nAAAA\n\n\(note)",
            "old 0\n\(hash) \n\n\(note)",
            "old 0\n" + String(repeating: "\(hash)\n", count: 64) + "\n\(note)",
            "old 0\n\n\(log.checkpoint().text)",
            "old 0\n\nlog.example/malformed\n4\nnot-a-hash\n\n\(note.split(separator: "\n").last!)\n",
            "old 5\n\n\(note)",  // old larger than the checkpoint
        ]
        var state = WitnessState()
        for body in bodies {
            let decision = decide(Array(body.utf8), logs: [log], state: &state)
            XCTAssertEqual(decision.response.status, 400, body.debugDescription + ": " + decision.response.text)
        }
        XCTAssertEqual(decide(Array("old 0\n\n".utf8) + [0xff, 0x0a], logs: [log], state: &state).response.status, 400)
        XCTAssertEqual(state, WitnessState())
    }

    func testSizeZeroNeedsTheEmptyRootAndOldZeroAnEmptyProof() throws {
        let log = try TestLog(origin: "log.example/empty")
        var state = WitnessState()
        let wrongRoot = try log.key.sign(SignedNote(text: Checkpoint(origin: log.key.name, size: 0, root: MerkleHash.leaf([])).text))
        XCTAssertEqual(decide(AddCheckpointRequest.body(oldSize: 0, proof: [], note: wrongRoot), logs: [log], state: &state).response.status, 422)
        XCTAssertEqual(decide(try log.body(old: 0), logs: [log], state: &state).response.status, 200)
        var grown = log
        grown.grow(to: 3)
        let decision = decide(AddCheckpointRequest.body(oldSize: 0, proof: [MerkleHash.empty], note: try grown.signedNote()), logs: [grown], state: &state)
        XCTAssertEqual(decision.response.status, 422)
    }

    func testTheMonitoringPathServesTheCosignedCheckpoint() throws {
        var log = try TestLog(origin: "log.example/monitor")
        log.grow(to: 6)
        var state = WitnessState()
        _ = decide(try log.body(old: 0), logs: [log], state: &state)
        let hash = AddCheckpoint.originHash(log.key.name)
        XCTAssertEqual(hash.count, 64)
        let response = AddCheckpoint.monitor(path: "\(hash)/checkpoint", records: state.logs)
        XCTAssertEqual(response.status, 200)
        let note = try SignedNote(parsing: response.body)
        XCTAssertEqual(try Checkpoint(text: note.text).size, 6)
        XCTAssertEqual(try note.verify([log.key.verifierKey.verifier, cosigner.verifierKey.verifier]), [0, 1])
        XCTAssertEqual(AddCheckpoint.monitor(path: "\(String(repeating: "0", count: 64))/checkpoint", records: state.logs).status, 404)
        XCTAssertEqual(AddCheckpoint.monitor(path: "\(hash)/other", records: state.logs).status, 404)
    }
}

/// The state file and the lock around check-and-store.
final class StoreTests: XCTestCase {
    func testConcurrentRequestsFromOneStateAdvanceItOnceAndTheFileHoldsIt() throws {
        let folder = try temporaryFolder()
        let path = folder + "/state.json"
        var log = try TestLog(origin: "log.example/race")
        log.grow(to: 5)
        let cosigner = Cosigner(key: try SignerKey.generate(name: "w.example"))
        let service = WitnessService(cosigner: cosigner, logKeys: [log.key.verifierKey], store: try WitnessStore(path: path, createNew: true))
        XCTAssertEqual(service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 0)).response.status, 200)
        // Twelve clients each advance from 5 to a different size at once: one wins, the rest get 409.
        var bodies: [[UInt8]] = []
        for size: Int64 in 6...17 {
            log.grow(to: size)
            bodies.append(try log.body(old: 5, size: size))
        }
        let statuses = Locked([Int]())
        let requests = bodies
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            let status = service.handle(method: "POST", path: "/add-checkpoint", body: requests[index]).response.status
            statuses.withLock { $0.append(status) }
        }
        XCTAssertEqual(statuses.current.filter { $0 == 200 }.count, 1, "\(statuses.current)")
        XCTAssertEqual(statuses.current.filter { $0 == 409 }.count, bodies.count - 1)
        let size = try XCTUnwrap(service.store.current.logs[log.key.name]?.size)
        XCTAssertTrue((6...17).contains(size))
        // The file holds what the memory holds; a second store on the same file is refused while
        // the first is open, and reads it back once it is closed.
        XCTAssertThrowsError(try WitnessStore(path: path))
        let onDisk = try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(onDisk, service.store.current)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/.state.json.tmp"))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    func testAForeignOrDamagedStateFileIsAnErrorNotAFreshStart() throws {
        let folder = try temporaryFolder()
        try "{\"not\": \"a witness\"}".write(toFile: folder + "/a.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WitnessStore(path: folder + "/a.json"))
        try "{\"format\": \"other-v9\", \"logs\": {}}".write(toFile: folder + "/b.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WitnessStore(path: folder + "/b.json"))
        // A missing file is an empty state only where none was ever kept (a first start): once its lock
        // file shows a state was kept, a missing state stops the witness.
        var first: WitnessStore? = try WitnessStore(path: folder + "/missing.json")
        XCTAssertEqual(first?.created, true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/missing.json"), "written at once")
        first = nil
        XCTAssertEqual(try WitnessStore(path: folder + "/missing.json").created, false, "reopened, not made again")
        try FileManager.default.removeItem(atPath: folder + "/missing.json")
        XCTAssertThrowsError(try WitnessStore(path: folder + "/missing.json")) {
            XCTAssertTrue("\($0)".contains("--new-state") && "\($0)".contains("fork"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/missing.json"))
        // Nor does asking for a new one ever replace a file, even a damaged one.
        XCTAssertThrowsError(try WitnessStore(path: folder + "/a.json", createNew: true)) { XCTAssertTrue("\($0)".contains("exists"), "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: folder + "/a.json", encoding: .utf8), "{\"not\": \"a witness\"}")
    }

    func testANewStateIsWrittenAtOnceAndReopenedWithoutCreateNew() throws {
        let path = try temporaryFolder() + "/state.json"
        var store: WitnessStore? = try WitnessStore(path: path, createNew: true)
        XCTAssertEqual(store?.current, WitnessState())
        XCTAssertEqual(try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path))), WitnessState())
        store = nil  // releases the lock
        XCTAssertThrowsError(try WitnessStore(path: path, createNew: true))
        XCTAssertEqual(try WitnessStore(path: path).current, WitnessState())
        // The new file is linked into place, never renamed over one that appeared after the check.
        let other = WitnessState(logs: ["x": LogRecord(size: 0, root: "", checkpoint: "", cosignedAt: 0)])
        XCTAssertThrowsError(try WitnessStore.write(other, to: path, syncFolder: WitnessStore.fsyncFolder, exclusive: true)) {
            XCTAssertTrue("\($0)".contains("never overwritten"), "\($0)")
        }
        XCTAssertEqual(try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path))), WitnessState())
        XCTAssertFalse(FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent + "/.state.json.tmp"))
    }

    /// A sound record for `log` at its size now, as the witness stores it.
    func record(_ log: TestLog, cosignedAt: UInt64 = 1_800_000_000) throws -> LogRecord {
        let cosigner = Cosigner(key: try SignerKey.generate(name: "w.example", type: .cosignatureV1))
        let note = try log.signedNote()
        let kept = SignedNote(text: note.text, signatures: note.signatures + [try cosigner.cosign(checkpointText: note.text, timestamp: cosignedAt)])
        return LogRecord(size: log.size, root: Base64.encode(log.checkpoint().root.bytes), checkpoint: kept.serialized, cosignedAt: cosignedAt)
    }

    func testAnUnsoundRecordIsRefusedOnLoadNamingTheLogAndTheField() throws {
        let folder = try temporaryFolder()
        var log = try TestLog(origin: "log.example/sound")
        log.grow(to: 6)
        var other = try TestLog(origin: "log.example/other")
        other.grow(to: 6)
        let good = try record(log)
        let path = folder + "/state.json"
        func load(_ change: (inout LogRecord) -> Void) throws -> String? {
            var changed = good
            change(&changed)
            try JSONEncoder().encode(WitnessState(logs: ["log.example/sound": changed])).write(to: URL(fileURLWithPath: path))
            do {
                _ = try WitnessStore(path: path)
                return nil
            } catch {
                XCTAssertEqual("\(error)".split(separator: "\n").count, 1, "\(error)")
                XCTAssertTrue("\(error)".contains("log \"log.example/sound\""), "\(error)")
                return "\(error)"
            }
        }
        XCTAssertNil(try load { _ in })
        XCTAssertNil(try load { $0.cosignedAt = UInt64(Int64.max) })
        let cases: [(String, (inout LogRecord) -> Void)] = [
            ("size -1 is negative", { $0.size = -1 }),
            ("root is not the base64 of 32 bytes", { $0.root = "AAAA" }),
            ("root is not the base64 of 32 bytes", { $0.root = "not base64" }),
            ("checkpoint's root hash is not root", { $0.root = Base64.encode(MerkleHash.empty.bytes) }),
            ("checkpoint has size 6, not the size 5", { $0.size = 5 }),
            ("checkpoint is not a checkpoint note", { $0.checkpoint = "garbage" }),
            ("checkpoint is not a checkpoint note", { $0.checkpoint = "log.example/sound\n6\n\n— x AAAA\n" }),
            ("checkpoint is for another origin", { $0.checkpoint = (try? self.record(other).checkpoint) ?? "" }),
            ("cosigned_at 9223372036854775808 is over 2^63 - 1", { $0.cosignedAt = UInt64(Int64.max) + 1 }),
            ("cosigned_at 18446744073709551615 is over 2^63 - 1", { $0.cosignedAt = .max }),
        ]
        for (expected, change) in cases {
            let error = try load(change)
            XCTAssertTrue(error?.contains(expected) ?? false, "\(expected): \(error ?? "loaded")")
        }
        // A record the witness would have refused to load would otherwise stop it at the next
        // request for the log (the cosignature's timestamp precondition): the sound one serves.
        XCTAssertNil(try load { $0.cosignedAt = UInt64(Int64.max) })
        let service = WitnessService(cosigner: Cosigner(key: try SignerKey.generate(name: "w.example")), logKeys: [log.key.verifierKey],
                                     store: try WitnessStore(path: path))
        XCTAssertEqual(service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 6)).response.status, 200)
    }

    func testAFolderSyncThatFailsAfterTheRenameLeavesMemoryAsTheFileIs() throws {
        let path = try temporaryFolder() + "/state.json"
        var log = try TestLog(origin: "log.example/sync")
        log.grow(to: 4)
        let store = try WitnessStore(path: path, createNew: true)
        let cosigner = Cosigner(key: try SignerKey.generate(name: "w.example"))
        let service = WitnessService(cosigner: cosigner, logKeys: [log.key.verifierKey], store: store)
        XCTAssertEqual(service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 0)).response.status, 200)
        store.syncFolder = { _ in throw WitnessStore.Failure(description: "injected: EIO") }
        log.grow(to: 9)
        let (response, summary) = service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 4))
        // The caller learns of the failure (nothing is cosigned)...
        XCTAssertEqual(response.status, 500)
        XCTAssertTrue(summary.contains("injected: EIO"), summary)
        // ...and memory holds what the file holds: the new state, so no later write takes it back.
        let onDisk = try JSONDecoder().decode(WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(onDisk.logs[log.key.name]?.size, 9)
        XCTAssertEqual(store.current, onDisk)
        store.syncFolder = WitnessStore.fsyncFolder
        XCTAssertEqual(service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 4)).response.text, "9\n")
        // A failure before the rename leaves both as they were.
        XCTAssertEqual(chmod((path as NSString).deletingLastPathComponent, 0o500), 0)
        defer { chmod((path as NSString).deletingLastPathComponent, 0o700) }
        log.grow(to: 12)
        if geteuid() != 0 {
            XCTAssertEqual(service.handle(method: "POST", path: "/add-checkpoint", body: try log.body(old: 9)).response.status, 500)
            XCTAssertEqual(store.current.logs[log.key.name]?.size, 9)
        }
    }
}
