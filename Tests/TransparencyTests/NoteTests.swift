import Crypto
import Merkle
import Transparency
import XCTest

final class NoteTests: XCTestCase {
    // c2sp.org/signed-note, "Verifier keys", "Example".
    let specVKey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    let specNote = """
        This is an example message.

        — example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=

        """

    func testSpecExampleVerifierKeyVerifiesSpecExampleNote() throws {
        let key = try VerifierKey(parsing: specVKey)
        XCTAssertEqual(key.name, "example.com/foo")
        XCTAssertEqual(KeyID.hex(key.keyID), "530d903a")
        XCTAssertEqual(key.type, .ed25519)
        XCTAssertEqual(key.text, specVKey)
        let note = try SignedNote(parsing: specNote)
        XCTAssertEqual(note.text, "This is an example message.\n")
        XCTAssertEqual(note.signatures.count, 1)
        XCTAssertEqual(note.signatures[0].keyID, 0x530d903a)
        XCTAssertEqual(note.serialized, specNote)
        XCTAssertEqual(try note.verify([key.verifier]), [0])
        // One changed byte of text and the known key's signature fails: the note is rejected.
        var tampered = note
        tampered.text = "This is an example message!\n"
        XCTAssertThrowsError(try tampered.verify([key.verifier])) {
            XCTAssertEqual($0 as? NoteError, .invalidSignature(keyName: "example.com/foo"))
        }
    }

    func testKeyIDIsTheSpecsTruncatedHash() throws {
        let key = try VerifierKey(parsing: specVKey)
        let digest = Array(SHA256.hash(data: Array("example.com/foo\n".utf8) + [0x01] + key.publicKey))
        XCTAssertEqual(Array(digest.prefix(4)), [0x53, 0x0d, 0x90, 0x3a])
        // The cosignature type gives the same key another ID (type byte 0x04).
        let cosigner = try VerifierKey(name: "example.com/foo", type: .cosignatureV1, publicKey: key.publicKey)
        let cosignerDigest = Array(SHA256.hash(data: Array("example.com/foo\n".utf8) + [0x04] + key.publicKey))
        XCTAssertEqual(KeyID.hex(cosigner.keyID), cosignerDigest.prefix(4).map { String(format: "%02x", $0) }.joined())
        XCTAssertNotEqual(cosigner.keyID, key.keyID)
        XCTAssertTrue(cosigner.text.hasPrefix("example.com/foo+\(KeyID.hex(cosigner.keyID))+B"))  // base64 of 0x04...
    }

    func testKeysAndACosignatureFromAnotherImplementation() throws {
        // Data from transparency-dev/formats' note tests (Go): an Ed25519 note vkey whose base64 holds
        // a plus, a native cosignature (type 0x04) vkey, and a cosignature line's bytes with their time.
        let noteKey = try VerifierKey(parsing: "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
        XCTAssertEqual(noteKey.type, .ed25519)
        XCTAssertEqual(KeyID.hex(noteKey.keyID), "7997405c")
        let cosignerKey = try VerifierKey(parsing: "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        XCTAssertEqual(cosignerKey.type, .cosignatureV1)
        XCTAssertEqual(KeyID.hex(cosignerKey.keyID), "da77ade7")
        XCTAssertTrue(cosignerKey.verifier is CosignatureVerifier)
        let bytes = try XCTUnwrap(Base64.decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="))
        XCTAssertEqual(Cosignature.timestamp(of: Array(bytes.dropFirst(4))), 1_727_964_367)
        // An Ed25519 note signature (4 + 64 bytes) is not a cosignature.
        let plain = try XCTUnwrap(Base64.decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="))
        XCTAssertNil(Cosignature.timestamp(of: Array(plain.dropFirst(4))))
    }

    func testSignerKeyRoundTripsAndSignsNotesItsVerifierKeyAccepts() throws {
        let signer = try SignerKey.generate(name: "log.example/test")
        let text = signer.text
        XCTAssertTrue(text.hasPrefix("PRIVATE+KEY+log.example/test+\(KeyID.hex(signer.keyID))+A"))
        let parsed = try SignerKey(parsing: text + "\n")
        XCTAssertEqual(parsed.keyID, signer.keyID)
        XCTAssertEqual(parsed.publicKey, signer.publicKey)
        // Never the seed: the key data is everything after the fourth "+" (base64 has "+" of its own).
        XCTAssertFalse(signer.description.contains(text.split(separator: "+", maxSplits: 4).last!))
        let vkey = try VerifierKey(parsing: signer.verifierKey.text)
        let note = try signer.sign(SignedNote(text: "hello\nworld\n"))
        let reparsed = try SignedNote(parsing: note.serialized)
        XCTAssertEqual(reparsed, note)
        XCTAssertEqual(try reparsed.verify([vkey.verifier]), [0])
    }

    func testSignaturesFromUnknownKeysAreIgnoredAndKnownOnesMustVerify() throws {
        let a = try SignerKey.generate(name: "a.example")
        let b = try SignerKey.generate(name: "b.example")
        let sameNameOtherKey = try SignerKey.generate(name: "a.example")
        var note = try b.sign(a.sign(SignedNote(text: "body\n")))
        // Only a trusted: b's signature is ignored.
        XCTAssertEqual(try note.verify([a.verifierKey.verifier]), [0])
        // A key sharing a's name but not its ID is another key: a's signature is ignored by it.
        XCTAssertThrowsError(try note.verify([sameNameOtherKey.verifierKey.verifier])) {
            XCTAssertEqual($0 as? NoteError, .noTrustedSignature)
        }
        XCTAssertEqual(try note.verify([sameNameOtherKey.verifierKey.verifier, b.verifierKey.verifier]), [1])
        // A signature line with a's name and ID but a wrong signature rejects the whole note.
        var bad = note.signatures[0]
        bad.signature[10] ^= 1
        note.signatures.append(bad)
        XCTAssertThrowsError(try note.verify([b.verifierKey.verifier, a.verifierKey.verifier])) {
            XCTAssertEqual($0 as? NoteError, .invalidSignature(keyName: "a.example"))
        }
    }

    func testMalformedNotesAreRefusedWithTheReason() throws {
        let sig = "— k.example AAAAAAE="
        let cases: [(String, NoteError)] = [
            ("text\n\n", .noSignatures),
            ("text\n\(sig)\n", .noSignatureBlock),
            ("text\n\n\(sig)", .unterminated),
            ("te\u{01}xt\n\n\(sig)\n", .controlCharacter(offset: 2)),
            ("text\r\n\n\(sig)\n", .controlCharacter(offset: 4)),
            ("\n\n\(sig)\n", .emptyText),
            ("text\n\n- k.example AAAAAAE=\n", .malformedSignatureLine(line: 1, reason: "it does not start with an em dash and a space")),
            ("text\n\n— k.example AAAAAA==\n", .malformedSignatureLine(line: 1, reason: "the signature is shorter than a key ID and one byte")),
            ("text\n\n— k.example AAAAAAE\n", .malformedSignatureLine(line: 1, reason: "the signature is not base64")),
            ("text\n\n— k.example  AAAAAAE=\n", .malformedSignatureLine(line: 1, reason: "it is not a key name and a signature separated by one space")),
            ("text\n\n— k+x AAAAAAE=\n", .invalidKeyName("k+x")),
            ("text\n\n\(sig)\nnot a signature\n", .malformedSignatureLine(line: 2, reason: "it does not start with an em dash and a space")),
        ]
        for (input, expected) in cases {
            XCTAssertThrowsError(try SignedNote(parsing: input), input.debugDescription) {
                XCTAssertEqual($0 as? NoteError, expected, input.debugDescription)
            }
        }
        XCTAssertThrowsError(try SignedNote(parsing: [0x61, 0x0A, 0x0A, 0xFF, 0x0A])) { XCTAssertEqual($0 as? NoteError, .notUTF8) }
        let many = "text\n\n" + String(repeating: sig + "\n", count: 17)
        XCTAssertEqual(try SignedNote(parsing: many).signatures.count, 17)  // at least 16 accepted
        XCTAssertThrowsError(try SignedNote(parsing: many, maxSignatures: 16)) { XCTAssertEqual($0 as? NoteError, .tooManySignatures(limit: 16)) }
        // The text may hold blank lines: the last one separates it from the signatures.
        let withBlank = try SignedNote(parsing: "a\n\nb\n\n\(sig)\n")
        XCTAssertEqual(withBlank.text, "a\n\nb\n")
    }

    func testVerifierAndSignerKeyRejections() throws {
        let good = try VerifierKey(parsing: specVKey)
        let cases = [
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  // wrong ID
            "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  // uppercase hex
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  // not base64
            "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  // type 0x02
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv",  // short key
            "example.com/foo+530d903a",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+extra",
            "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ]
        for text in cases { XCTAssertThrowsError(try VerifierKey(parsing: text), text) }
        XCTAssertThrowsError(try SignerKey(parsing: good.text))
        let signer = try SignerKey.generate(name: "x.example")
        XCTAssertThrowsError(try SignerKey(parsing: signer.text.replacingOccurrences(of: "PRIVATE+KEY", with: "PUBLIC+KEY")))
        XCTAssertThrowsError(try SignerKey(parsing: signer.text.replacingOccurrences(of: KeyID.hex(signer.keyID), with: "00000000")))
    }

    func testBase64IsStrict() {
        XCTAssertEqual(Base64.decode("YQ=="), [0x61])
        XCTAssertEqual(Base64.decode("YWI="), [0x61, 0x62])
        XCTAssertEqual(Base64.decode(""), [])
        for bad in ["YR==", "YWJ=", "YQ=", "Y===", "YQ==YQ==", "YQ ==", "YQ=A", "Y-Q_"] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) & 0xff) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
        }
    }
}
