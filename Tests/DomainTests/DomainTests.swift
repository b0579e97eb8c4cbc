import EventRecords
import JSON
import Domain
import Foundation
import LineProtocol
import XCTest

final class DomainTests: XCTestCase {
    /// Credentials are stored as SHA-256 (swift-crypto's), hex: a known vector pins the encoding.
    func testCredentialHashIsHexSHA256() {
        XCTAssertEqual(Credentials.hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Credentials.hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
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

    func testRegistryFoldsCredentialsAndConsultations() throws {
        var registry = Registry()
        let org = Organisation(id: "o1", name: "Org", type: "ngo", leadership: ["refugees"], level: "local", country: "KEN")
        try registry.apply(event(1, NewEvent(.organisationRegistered(org))))
        try registry.apply(event(2, NewEvent(.credentialIssued(CredentialIssued(organisation: "o1", credential: "k1", sha256: Credentials.hash("secret"))))))
        XCTAssertEqual(registry.organisations["o1"], org)
        XCTAssertTrue(registry.authenticate(organisation: "o1", token: "secret"))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "Secret"))
        XCTAssertFalse(registry.authenticate(organisation: "o2", token: "secret"))
        try registry.apply(event(3, NewEvent(.credentialRevoked(CredentialRevoked(organisation: "o1", credential: "k1")))))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "secret"))
        // A replayed (older) event is ignored.
        try registry.apply(event(2, NewEvent(.credentialIssued(CredentialIssued(organisation: "o1", credential: "k1", sha256: Credentials.hash("secret"))))))
        XCTAssertFalse(registry.authenticate(organisation: "o1", token: "secret"))

        let opens = Date(timeIntervalSince1970: 1_800_000_000)
        let consultation = Consultation(
            id: "c1", title: "T", convener: "C", opensAt: opens, closesAt: opens.addingTimeInterval(86_400),
            stages: ["design"], languages: ["en"], baseline: ["gender": ["female": 0.5, "male": 0.5]])
        try registry.apply(event(4, NewEvent(.consultationOpened(consultation))))
        XCTAssertEqual(registry.consultations["c1"], consultation)
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(10)).map(\.id), ["c1"])
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(-10)).map(\.id), [])
        try registry.apply(event(5, NewEvent(.consultationClosed(ConsultationClosed(id: "c1", closedAt: opens.addingTimeInterval(100))))))
        XCTAssertEqual(registry.openConsultations(at: opens.addingTimeInterval(10)).map(\.id), [])
    }

    /// Every event type encodes and decodes to itself through the one codec, and data of the wrong
    /// shape is refused with the type and the field named (never dropped silently).
    func testEveryEventRoundTripsThroughTheTypedCodec() throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let org = Organisation(id: "o1", name: "Org", type: "ngo", leadership: ["refugees", "women"], level: "local", country: "KEN")
        let submission = SubmissionKey(organisation: "o1", consultation: "c1", key: "k1")
        let events: [DomainEvent] = [
            .organisationRegistered(org), .organisationProfileChanged(org),
            .credentialIssued(CredentialIssued(organisation: "o1", credential: "k1", sha256: Credentials.hash("t"))),
            .credentialRevoked(CredentialRevoked(organisation: "o1", credential: "k1")),
            .consultationOpened(Consultation(
                id: "c1", title: "T", convener: "C", opensAt: at, closesAt: at.addingTimeInterval(86_400), stages: ["design"],
                languages: ["ar", "en"], baseline: ["gender": ["female": 0.4, "male": 0.6]])),
            .consultationClosed(ConsultationClosed(id: "c1", closedAt: at)),
            .submissionReceived(SubmissionReceived(submission, body: try JSONParser().parse(#"{"stage": "design", "text": "x"}"#))),
            .submissionWithdrawn(SubmissionWithdrawn(submission, reason: nil)),
            .submissionWithdrawn(SubmissionWithdrawn(submission, reason: "typo")),
            .feedbackGiven(FeedbackGiven(submission, text: "thanks")),
            .outcomePublished(OutcomePublished(consultation: "c1", summary: "s", cites: [Citation(organisation: "o1", key: "k1")])),
            .contentErased(ContentErased(organisation: "o1", consultation: "c1", key: "k1", by: "dpo", reason: "request", events: 2)),
        ]
        for event in events {
            let text = event.data.serialized
            XCTAssertEqual(try DomainEvent(type: event.type, data: text, recordedAt: at), event, text)
        }
        XCTAssertThrowsError(try DomainEvent(type: EventType.feedbackGiven, data: #"{"organisation": "o1", "consultation": "c1"}"#, recordedAt: at)) {
            XCTAssertEqual("\($0)", "FeedbackGiven.key: a string")
        }
        XCTAssertThrowsError(try DomainEvent(type: EventType.outcomePublished, data: #"{"consultation": "c1", "summary": "s", "cites": [{"key": 1}]}"#, recordedAt: at)) {
            XCTAssertEqual("\($0)", "OutcomePublished.organisation: a string")
        }
        XCTAssertThrowsError(try DomainEvent(type: "Unknown", data: "{}", recordedAt: at))
    }

    /// The convener's commands are decided in Domain: refusals are typed and name the field.
    func testCommandsDecideOrRefuse() throws {
        var registry = Registry()
        let org = Organisation(id: "o1", name: "Org", type: "ngo", leadership: [], level: "local", country: "KEN")
        let registered = try Commands.register(org, tokenHash: "h", registry: registry).get()
        XCTAssertEqual(registered.map(\.event.type), [EventType.organisationRegistered, EventType.credentialIssued])
        XCTAssertEqual(registered.map(\.expectedVersion), [.noStream, .exactly(1)])
        for (position, pending) in registered.enumerated() { registry.apply(position: Int64(position + 1), pending.event) }
        XCTAssertEqual(Commands.register(org, tokenHash: "h", registry: registry).map(\.count), .failure(DomainError(.conflict, field: "id", "organisation o1 already exists")))
        var bad = org
        bad.country = "Kenya"
        XCTAssertEqual(try? Commands.register(bad, tokenHash: "h", registry: Registry()).get(), nil)
        let id = SubmissionKey(organisation: "o1", consultation: "c1", key: "k1")
        let withdrawn = StreamState(events: [
            .submissionReceived(SubmissionReceived(id, body: .object([]))), .submissionWithdrawn(SubmissionWithdrawn(id, reason: nil)),
        ], version: 2)
        XCTAssertEqual(Commands.giveFeedback(to: id, text: "x", submission: withdrawn).map(\.stream), .failure(DomainError(.conflict, field: "key", "submission k1 of o1 was withdrawn")))
        XCTAssertEqual(Commands.giveFeedback(to: id, text: "x", submission: .empty).map(\.stream), .failure(DomainError(.notFound, field: "key", "no submission k1 of o1 in c1")))
        let unchanged = try Commands.changeProfile(
            of: "o1", name: "Org", type: nil, leadership: nil, level: nil, country: nil,
            stream: StreamState(events: [.organisationRegistered(org)], version: 2)).get()
        XCTAssertNil(unchanged, "the same profile again is no change")
    }

    func testSubmissionRulesNameTheFieldAtFault() throws {
        let consultation = Consultation(
            id: "c1", title: "T", convener: "C", opensAt: Date(), closesAt: Date(), stages: ["design", "monitoring"],
            languages: ["en"], baseline: ["gender": ["female": 0.5, "male": 0.5]])
        let parser = JSONParser()
        func check(_ body: String) throws -> String? {
            SubmissionRules.validate(try parser.parse(body), for: consultation)?.description
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
