import Merkle
import Transparency
import XCTest

/// A test log: leaves, its key, and signed checkpoints.
struct TestLog {
    let key: SignerKey
    var leaves: [Hash] = []
    var nodes: [NodeID: Hash] = [:]
    var frontier = MerkleFrontier()

    init(origin: String) throws { key = try SignerKey.generate(name: origin) }

    mutating func append(_ count: Int) {
        for _ in 0..<count {
            let leaf = MerkleHash.leaf(Array("entry \(leaves.count)".utf8))
            leaves.append(leaf)
            for (id, hash) in frontier.append(leaf) { nodes[id] = hash }
        }
    }

    func checkpoint() -> Checkpoint { Checkpoint(origin: key.name, size: frontier.size, root: frontier.root) }

    func signed() throws -> SignedNote { try key.sign(SignedNote(text: checkpoint().text)) }
}

final class CheckpointTests: XCTestCase {
    // c2sp.org/tlog-checkpoint's example.
    let specText = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

    func testSpecExampleCheckpointParsesAndSerializesBack() throws {
        let checkpoint = try Checkpoint(text: specText)
        XCTAssertEqual(checkpoint.origin, "example.com/behind-the-sofa")
        XCTAssertEqual(checkpoint.size, 20_852_163)
        XCTAssertEqual(Base64.encode(checkpoint.root.bytes), "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
        XCTAssertEqual(checkpoint.extensions, [])
        XCTAssertEqual(checkpoint.text, specText)
        let withExtensions = try Checkpoint(text: specText + "ext one\next two\n")
        XCTAssertEqual(withExtensions.extensions, ["ext one", "ext two"])
        XCTAssertEqual(withExtensions.text, specText + "ext one\next two\n")
    }

    func testMalformedCheckpointsAreRefusedWithTheReason() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        let cases: [(String, CheckpointError)] = [
            ("o\n1\n\(root)", .unterminated),
            ("o\n1\n", .tooFewLines),
            ("\n1\n\(root)\n", .emptyOrigin),
            ("o\n01\n\(root)\n", .badSize("01")),
            ("o\n-1\n\(root)\n", .badSize("-1")),
            ("o\n+1\n\(root)\n", .badSize("+1")),
            ("o\n 1\n\(root)\n", .badSize(" 1")),
            ("o\n99999999999999999999\n\(root)\n", .badSize("99999999999999999999")),
            ("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", .badRootHash),
            ("o\n1\n\(root) \n", .badRootHash),
            ("o\n1\n\(root)\n\n", .emptyExtensionLine(line: 4)),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Checkpoint(text: text), text.debugDescription) {
                XCTAssertEqual($0 as? CheckpointError, expected, text.debugDescription)
            }
        }
        XCTAssertEqual(try Checkpoint(text: "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n").size, 0)
    }

    func testSpecExampleCosignatureCarriesTheSpecsTimestamp() throws {
        // c2sp.org/tlog-cosignature's example checkpoint and its message for time 1679315147.
        let note = try SignedNote(parsing: specText + """

            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
            — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==

            """)
        XCTAssertEqual(note.signatures.count, 2)
        XCTAssertEqual(note.signatures[1].name, "witness.example.com/w1")
        XCTAssertEqual(Cosignature.timestamp(of: note.signatures[1].signature), 1_679_315_147)
        XCTAssertEqual(
            String(decoding: Cosignature.message(checkpointText: note.text, timestamp: 1_679_315_147), as: UTF8.self),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    }

    func testCosignaturesVerifyWithTheWitnessVKeyAndNothingElse() throws {
        let log = try TestLog(origin: "log.example/a")
        let note = try log.signed()
        let witnessKey = try SignerKey.generate(name: "witness.example/w1", type: .cosignatureV1)
        let cosigner = Cosigner(key: witnessKey)
        let line = try cosigner.cosign(checkpointText: note.text, timestamp: 1_700_000_000)
        XCTAssertEqual(line.signature.count, 72)
        XCTAssertEqual(Array(line.signature.prefix(8)), [0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00])
        var cosigned = note
        cosigned.signatures.append(line)
        let vkey = try VerifierKey(parsing: cosigner.verifierKey.text)
        XCTAssertEqual(vkey.type, .cosignatureV1)
        XCTAssertEqual(try cosigned.verify([vkey.verifier]), [0])
        XCTAssertEqual(try SignedNote(parsing: cosigned.serialized).verify([log.key.verifierKey.verifier, vkey.verifier]), [0, 1])
        // A changed timestamp breaks the signature.
        var wrongTime = cosigned
        wrongTime.signatures[1].signature[7] ^= 1
        XCTAssertThrowsError(try wrongTime.verify([vkey.verifier]))
        // A cosigner made from a type 0x01 key cosigns under the 0x04 ID.
        let fromNoteKey = Cosigner(key: try SignerKey.generate(name: "witness.example/w2"))
        XCTAssertEqual(fromNoteKey.verifierKey.type, .cosignatureV1)
        // The cosignature is not an Ed25519 note signature over the text.
        let asNoteKey = try VerifierKey(name: witnessKey.name, type: .ed25519, publicKey: witnessKey.publicKey)
        XCTAssertThrowsError(try cosigned.verify([asNoteKey.verifier])) { XCTAssertEqual($0 as? NoteError, .noTrustedSignature) }
    }

    func testTlogProofRoundTripsAndVerifiesAgainstAQuorum() throws {
        var log = try TestLog(origin: "log.example/proofs")
        log.append(11)
        var note = try log.signed()
        let witnesses = try (1...3).map { try SignerKey.generate(name: "w\($0).example", type: .cosignatureV1) }
        for witness in witnesses.prefix(2) {
            note.signatures.append(try Cosigner(key: witness).cosign(checkpointText: note.text, timestamp: 1_800_000_000))
        }
        let index: Int64 = 7
        let path = MerkleProofs.inclusionProof(leaf: index, size: 11) { log.nodes[$0]! }
        let proof = TlogProof(extra: Array("context".utf8), index: index, inclusionProof: path, note: note)
        let text = proof.serialized
        XCTAssertTrue(text.hasPrefix("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 7\n"))
        let parsed = try TlogProof(parsing: text)
        XCTAssertEqual(parsed, proof)
        let wkeys = witnesses.map(\.verifierKey)
        let (checkpoint, cosigned) = try parsed.verify(leafHash: log.leaves[7], logKey: log.key.verifierKey, witnesses: wkeys, quorum: 2)
        XCTAssertEqual(checkpoint.size, 11)
        XCTAssertEqual(cosigned, [0, 1])
        func expect(_ error: ProofError, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body()) { XCTAssertEqual($0 as? ProofError, error) }
        }
        expect(.notEnoughCosignatures(needed: 3, found: 2)) {
            try parsed.verify(leafHash: log.leaves[7], logKey: log.key.verifierKey, witnesses: wkeys, quorum: 3)
        }
        // A witness listed twice counts once.
        expect(.notEnoughCosignatures(needed: 3, found: 2)) {
            try parsed.verify(leafHash: log.leaves[7], logKey: log.key.verifierKey, witnesses: wkeys + [wkeys[0]], quorum: 3)
        }
        expect(.inclusionFails) { try parsed.verify(leafHash: log.leaves[6], logKey: log.key.verifierKey, witnesses: wkeys, quorum: 2) }
        expect(.wrongOrigin(expected: "other.example", found: "log.example/proofs")) {
            try parsed.verify(leafHash: log.leaves[7], logKey: log.key.verifierKey, origin: "other.example", witnesses: wkeys, quorum: 0)
        }
        let otherLog = try SignerKey.generate(name: "log.example/proofs")
        expect(.note(.noTrustedSignature)) { try parsed.verify(leafHash: log.leaves[7], logKey: otherLog.verifierKey, witnesses: wkeys, quorum: 0) }
        var forged = parsed
        forged.note.signatures[2].signature[20] ^= 1
        expect(.note(.invalidSignature(keyName: "w2.example"))) {
            try forged.verify(leafHash: log.leaves[7], logKey: log.key.verifierKey, witnesses: wkeys, quorum: 1)
        }
        // Without extra data, and index 0 with its proof.
        let plain = TlogProof(index: 0, inclusionProof: MerkleProofs.inclusionProof(leaf: 0, size: 11) { log.nodes[$0]! }, note: note)
        XCTAssertTrue(plain.serialized.hasPrefix("c2sp.org/tlog-proof@v1\nindex 0\n"))
        XCTAssertNoThrow(try TlogProof(parsing: plain.serialized).verify(leafHash: log.leaves[0], logKey: log.key.verifierKey, witnesses: wkeys, quorum: 2))
    }

    func testMalformedTlogProofsAreRefusedWithTheReason() throws {
        var log = try TestLog(origin: "log.example/p")
        log.append(3)
        let note = try log.signed().serialized
        let hash = Base64.encode(log.leaves[0].bytes)
        let cases: [(String, ProofError)] = [
            ("c2sp.org/tlog-proof@v2\nindex 0\n\n\(note)", .badHeader),
            ("c2sp.org/tlog-proof@v1\nindex 01\n\n\(note)", .badIndex),
            ("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n\(note)", .badExtra),
            ("c2sp.org/tlog-proof@v1\nextra\nindex 1\n\n\(note)", .badExtra),
            ("c2sp.org/tlog-proof@v1\n\(hash)\n\n\(note)", .badIndex),
            ("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n\(note)", .badProofHash(line: 3)),
            ("c2sp.org/tlog-proof@v1\nindex 1\n\(hash)\n", .noCheckpoint),
            ("c2sp.org/tlog-proof@v1\nindex 1\n\(hash)\n\n", .noCheckpoint),
            ("c2sp.org/tlog-proof@v1\nindex 1\n\n\(log.checkpoint().text)", .note(.noSignatureBlock)),
            ("c2sp.org/tlog-proof@v1\nindex 1\n" + String(repeating: "\(hash)\n", count: 64) + "\n\(note)", .tooManyProofHashes),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try TlogProof(parsing: text), text) { XCTAssertEqual($0 as? ProofError, expected, text) }
        }
        let outOfRange = try TlogProof(parsing: "c2sp.org/tlog-proof@v1\nindex 3\n\n\(note)")
        XCTAssertThrowsError(try outOfRange.verify(leafHash: log.leaves[0], logKey: log.key.verifierKey, witnesses: [], quorum: 0)) {
            XCTAssertEqual($0 as? ProofError, .indexOutOfRange(index: 3, size: 3))
        }
    }
}
