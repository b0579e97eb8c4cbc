import Crypto
import Domain
import Foundation
import JSON
import XCTest

@testable import Vault

/// The boxes themselves: no database. What is sealed opens only with its key and its context.
final class SealingTests: XCTestCase {
    func testABoxOpensOnlyWithItsKeyAndContext() throws {
        let key = SymmetricKey(size: .bits256)
        let event = UUID()
        let context = Sealing.contentContext(event: event, path: ["submission", "text"])
        let box = try Sealing.seal(Data("Girls leave school at fourteen ✓".utf8), key: key, context: context)
        XCTAssertEqual(String(decoding: try Sealing.open(box, key: key, context: context), as: UTF8.self), "Girls leave school at fourteen ✓")
        XCTAssertThrowsError(try Sealing.open(box, key: SymmetricKey(size: .bits256), context: context), "another key")
        XCTAssertThrowsError(try Sealing.open(box, key: key, context: Sealing.contentContext(event: UUID(), path: ["submission", "text"])), "another event")
        XCTAssertThrowsError(try Sealing.open(box, key: key, context: Sealing.contentContext(event: event, path: ["text"])), "another field")
        var altered = box
        altered[altered.count - 20] ^= 1
        XCTAssertThrowsError(try Sealing.open(altered, key: key, context: context), "an altered box")
        // Sealing twice gives two boxes (fresh nonces): equal texts do not show as equal ciphertexts.
        XCTAssertNotEqual(box, try Sealing.seal(Data("Girls leave school at fourteen ✓".utf8), key: key, context: context))
    }

    func testMasterKeyFilesRoundTripAndBadFilesAreNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = MasterKey.generate()
        let path = folder.appendingPathComponent("master.key").path
        try key.fileText.write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try MasterKey.load(path)
        XCTAssertEqual(loaded.id, key.id)
        XCTAssertEqual(loaded.id.count, 32)
        XCTAssertNotEqual(MasterKey.generate().id, key.id)

        let bad = folder.appendingPathComponent("bad.key").path
        try "consultd-master-key-v1 c2hvcnQ=\n".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MasterKey.load(bad)) { error in
            XCTAssertTrue("\(error)".contains(bad), "\(error)")
            XCTAssertFalse("\(error)".contains("c2hvcnQ"), "the error never quotes key material")
        }
        XCTAssertThrowsError(try MasterKey.load(folder.appendingPathComponent("missing.key").path))
    }

    /// Personal text in each of its forms reads back from event data; the typed decoder accepts
    /// sealed and erased content where it accepts text.
    func testPersonalTextFormsDecode() throws {
        let id = SubmissionKey(organisation: "o1", consultation: "c1", key: "k1")
        for text in [PersonalText.plain("thanks"), .sealed("AAAA"), .erased] {
            let event = DomainEvent.feedbackGiven(FeedbackGiven(id, text: text))
            XCTAssertEqual(try DomainEvent(type: event.type, data: event.data.serialized, recordedAt: Date()), event)
            let withdrawn = DomainEvent.submissionWithdrawn(SubmissionWithdrawn(id, reason: text))
            XCTAssertEqual(try DomainEvent(type: withdrawn.type, data: withdrawn.data.serialized, recordedAt: Date()), withdrawn)
        }
        XCTAssertThrowsError(try DomainEvent(type: EventType.feedbackGiven, data: #"{"organisation":"o1","consultation":"c1","key":"k1","text":{"x":1}}"#, recordedAt: Date()))
        let erased = DomainEvent.contentErased(ContentErased(organisation: "o1", consultation: nil, key: nil, by: "dpo", reason: "request", events: 3))
        XCTAssertEqual(try DomainEvent(type: erased.type, data: erased.data.serialized, recordedAt: Date()), erased)
        XCTAssertEqual(erased.stream, Streams.erasures)
    }
}
