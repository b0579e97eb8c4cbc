import Domain
import EventLog
import Foundation
import LineProtocol
import PostgresClient
import XCTest

final class DomainTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000)).prefix(16), "41edece42d63e8d9")
    }

    func testTokensAreRandomAndValidArguments() {
        let a = Credentials.newToken()
        let b = Credentials.newToken()
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(a.count, 64)
        XCTAssertTrue(Request.isToken(a))
        XCTAssertTrue(Credentials.constantTimeEquals(a, a))
        XCTAssertFalse(Credentials.constantTimeEquals(a, b))
        XCTAssertFalse(Credentials.constantTimeEquals(a, String(a.dropLast())))
    }

    func event(_ position: Int64, _ new: NewEvent) -> RecordedEvent {
        RecordedEvent(
            position: position, eventID: new.eventID, stream: new.stream, version: 1, type: new.type, data: new.data.text,
            metadata: new.metadata.text, recordedAt: Date(timeIntervalSince1970: 0), idempotencyKey: new.idempotencyKey)
    }

    func testRegistryFoldsCredentialsAndConsultations() {
        var registry = Registry()
        let org = Organisation(id: "o1", name: "Org", type: "ngo", leadership: ["refugees"], level: "local", country: "KEN")
        registry.apply(event(1, DomainEvents.organisationRegistered(org)))
        registry.apply(event(2, DomainEvents.credentialIssued(organisation: "o1", credential: "k1", tokenHash: Credentials.hash("secret"))))
        XCTAssertEqual(registry.organisations["o1"], org)
        XCTAssertTrue(registry.authenticate(organisation: "o1", token: "secret"))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "Secret"))
        XCTAssertFalse(registry.authenticate(organisation: "o2", token: "secret"))
        registry.apply(event(3, DomainEvents.credentialRevoked(organisation: "o1", credential: "k1")))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "secret"))
        // A replayed (older) event is ignored.
        registry.apply(event(2, DomainEvents.credentialIssued(organisation: "o1", credential: "k1", tokenHash: Credentials.hash("secret"))))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "secret"))

        let opens = Date(timeIntervalSince1970: 1_800_000_000)
        let consultation = Consultation(
            id: "c1", title: "T", convener: "C", opensAt: opens, closesAt: opens.addingTimeInterval(86_400),
            stages: ["design"], languages: ["en"], baseline: ["gender": ["female": 0.5, "male": 0.5]])
        registry.apply(event(4, DomainEvents.consultationOpened(consultation)))
        XCTAssertEqual(registry.consultations["c1"], consultation)
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(10)).map(\.id), ["c1"])
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(-10)).map(\.id), [])
        registry.apply(event(5, DomainEvents.consultationClosed(id: "c1", at: opens.addingTimeInterval(100))))
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(10)).map(\.id), [])
    }

    func testSubmissionRulesNameTheFieldAtFault() throws {
        let consultation = Consultation(
            id: "c1", title: "T", convener: "C", opensAt: Date(), closesAt: Date(), stages: ["design", "monitoring"],
            languages: ["en"], baseline: ["gender": ["female": 0.5, "male": 0.5]])
        let parser = JSONParser()
        func check(_ body: String) throws -> String? {
            SubmissionRules.validate(try parser.parse(body), for: consultation)?.message
        }
        XCTAssertNil(try check(#"{"stage":"design","language":"fr-CA","text":"x","represents":{"gender":["female","nonbinary"]},"people_consulted":0,"topics":["a"]}"#))
        XCTAssertEqual(try check(#"{"language":"en","text":"x"}"#)?.prefix(6), "stage:")
        XCTAssertEqual(try check(#"{"stage":"evaluation","language":"en","text":"x"}"#), "stage: must be one of design, monitoring")
        XCTAssertEqual(try check(#"{"stage":"design","language":"english","text":"x"}"#)?.prefix(9), "language:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":""}"#)?.prefix(5), "text:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":"\#(String(repeating: "é", count: 32_769))"}"#)?.prefix(5), "text:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":"x","represents":{"gender":"female"}}"#)?.prefix(18), "represents.gender:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":"x","people_consulted":1.5}"#)?.prefix(17), "people_consulted:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":"x","people_consulted":1e3}"#)?.prefix(17), "people_consulted:")
        XCTAssertEqual(try check(#"{"stage":"design","language":"en","text":"x","topics":[1]}"#)?.prefix(7), "topics:")
    }
}
