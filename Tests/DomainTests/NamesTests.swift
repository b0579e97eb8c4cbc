import Domain
import Foundation
import JSON
import XCTest

/// A consultation's names by language: their one JSON shape, how later names lay over earlier
/// ones, what a convener may name, and when naming writes nothing.
final class NamesTests: XCTestCase {
    let consultation = Consultation(
        id: "c1", title: "Water", convener: "WASH", opensAt: Date(timeIntervalSince1970: 0), closesAt: Date(timeIntervalSince1970: 86_400 * 60),
        stages: ["design"], languages: ["ar"], baseline: ["age": ["0-17": 0.5, "18+": 0.5]],
        names: NameBook(["fr": Names(title: "Eau", groups: ["age": ["0-17": "enfants"]])]))

    func book(_ json: String) throws -> NameBook { try NameBook(json: try JSONParser().parse(json), field: "names") }

    func testNamesSurviveTheLogAndOldConsultationsReadAsBefore() throws {
        // Through the event codec: the opened consultation and a later ConsultationNamed.
        let opened = DomainEvent.consultationOpened(consultation)
        XCTAssertEqual(try DomainEvent(type: opened.type, data: opened.data.serialized, recordedAt: Date()), opened)
        let named = DomainEvent.consultationNamed(ConsultationNamed(consultation: "c1", names: try book(#"{"ar": {"title": "مياه", "dimensions": {"age": "العمر"}}}"#)))
        XCTAssertEqual(named.stream, "consultation-c1")
        XCTAssertEqual(try DomainEvent(type: "ConsultationNamed", data: named.data.serialized, recordedAt: Date()), named)
        // A consultation opened before names existed encodes as it always did: no "names" member.
        var old = consultation
        old.names = NameBook()
        XCTAssertNil(DomainEvent.consultationOpened(old).data["names"])
        // A malformed stored ConsultationNamed names its field.
        XCTAssertThrowsError(try DomainEvent(type: "ConsultationNamed", data: #"{"consultation": "c1", "names": {"ar": {"title": 3}}}"#, recordedAt: Date())) {
            XCTAssertEqual(($0 as? EventDecodingError)?.field, "names.ar.title")
        }
    }

    func testLaterNamesReplaceEarlierOnesOnlyWhereGiven() throws {
        let stream: [DomainEvent] = [
            .consultationOpened(consultation),
            .consultationNamed(ConsultationNamed(consultation: "c1", names: try book(#"{"FR": {"groups": {"age": {"18+": "adultes"}}}, "ar": {"title": "مياه"}}"#))),
            .consultationNamed(ConsultationNamed(consultation: "c1", names: try book(#"{"fr": {"title": "L’eau"}}"#))),
        ]
        let current = NameBook.current(in: stream)
        XCTAssertEqual(current["fr"], Names(title: "L’eau", groups: ["age": ["0-17": "enfants", "18+": "adultes"]]), "merged across tags' case")
        XCTAssertEqual(current["AR"].title, "مياه")
        XCTAssertEqual(current["en"], Names(), "nobody named it in English")
    }

    func testAConvenerNamesOnlyWhatTheConsultationHasAndANoOpWritesNothing() throws {
        var registry = Registry()
        registry.apply(position: 1, .consultationOpened(consultation))
        let stream = StreamState(events: [.consultationOpened(consultation)], version: 1)
        func name(_ json: String) throws -> Result<PendingEvent?, DomainError> { Commands.name("c1", try book(json), registry: registry, stream: stream) }
        XCTAssertNotNil(try name(#"{"ar": {"title": "مياه"}}"#).get())
        XCTAssertNil(try name(#"{"fr": {"title": "Eau", "groups": {"age": {"0-17": "enfants"}}}}"#).get(), "given at opening already")
        for (json, field) in [
            (#"{"ar": {"groups": {"age": {"60+": "x"}}}}"#, "names.ar.groups.age.60+"), (#"{"ar": {"groups": {"sex": {"f": "x"}}}}"#, "names.ar.groups.sex"),
            (#"{"ar": {"dimensions": {"sex": "x"}}}"#, "names.ar.dimensions.sex"), (#"{"a b": {"title": "x"}}"#, "names.a b"),
            (#"{"ar": {"title": ""}}"#, "names.ar.title"), (#"{"ar": {"convener": "a\u0007b"}}"#, "names.ar.convener"),
            (#"{"ar": {"title": "\#(String(repeating: "x", count: 301))"}}"#, "names.ar.title"),
        ] {
            XCTAssertThrowsError(try name(json).get(), json) { XCTAssertEqual(($0 as? DomainError)?.field, field, json) }
        }
        XCTAssertThrowsError(try book(#"{"ar": {"colour": "x"}}"#)) { XCTAssertEqual(($0 as? DomainError)?.field, "names.ar.colour") }
        XCTAssertThrowsError(try Commands.name("c2", try book(#"{"ar": {"title": "x"}}"#), registry: registry, stream: stream).get()) {
            XCTAssertEqual(($0 as? DomainError)?.kind, .notFound)
        }
        XCTAssertThrowsError(try name("{}").get(), "nothing to name")
        // Opening checks the names it is given with the same rules.
        var bad = consultation
        bad.names = try book(#"{"fr": {"groups": {"age": {"60+": "âgés"}}}}"#)
        XCTAssertEqual(ConvenerRules.refusal(bad)?.field, "names.fr.groups.age.60+")
    }
}
