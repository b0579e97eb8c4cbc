import Domain
import EventLog
import Foundation
import LineProtocol
import Metrics
import PostgresClient
import XCTest

/// Each metric on a small history worked out by hand (the arithmetic is in the comments).
final class MetricsTests: XCTestCase {
    let day = 86_400.0
    let opens = Timestamps.parse("2027-01-01T00:00:00Z")!

    /// The history, as events with positions 1, 2, ... and the given days after `opens`.
    func history() -> [RecordedEvent] {
        var events: [(Double, NewEvent)] = []
        func org(_ id: String, _ leadership: [String], _ level: String) -> Organisation {
            Organisation(id: id, name: id, type: "ngo", leadership: leadership, level: level, country: "JOR")
        }
        func submit(_ at: Double, _ organisation: String, _ key: String, stage: String, language: String,
                    represents: [(String, [String])]) {
            let body = JSONValue.object([
                ("stage", .string(stage)), ("language", .string(language)), ("text", .string("t")),
                ("represents", .object(represents.map { ($0.0, .array($0.1.map(JSONValue.string))) })),
            ])
            events.append((at, DomainEvents.submissionReceived(
                organisation: organisation, consultation: "c", key: key, body: body, metadata: .object([]))))
        }
        events.append((0, DomainEvents.organisationRegistered(org("A", ["refugees"], "local"))))
        events.append((0, DomainEvents.organisationRegistered(org("B", [], "global"))))
        events.append((0, DomainEvents.organisationRegistered(org("C", ["women"], "national"))))
        events.append((0, DomainEvents.consultationOpened(Consultation(
            id: "c", title: "t", convener: "v", opensAt: opens, closesAt: opens.addingTimeInterval(45 * day),
            stages: ["design", "implementation", "monitoring", "evaluation"], languages: ["ar", "en"],
            baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["young": 0.4, "old": 0.6]]))))
        submit(4, "A", "a1", stage: "design", language: "ar", represents: [("gender", ["female"]), ("age", ["young"])])
        submit(5, "A", "a2", stage: "design", language: "ar-SY", represents: [("gender", ["female", "male"])])
        submit(6, "B", "b1", stage: "implementation", language: "en", represents: [("gender", ["male"]), ("age", ["old", "young"])])
        submit(7, "B", "b2", stage: "design", language: "en", represents: [("gender", ["nonbinary"]), ("age", ["old"])])
        submit(8, "C", "c1", stage: "design", language: "fr", represents: [])
        submit(9, "B", "b3", stage: "design", language: "en", represents: [("gender", ["male"])])
        events.append((10, DomainEvents.submissionWithdrawn(organisation: "C", consultation: "c", key: "c1", reason: nil, metadata: .object([]))))
        events.append((6, DomainEvents.feedbackGiven(organisation: "A", consultation: "c", key: "a1", text: "thanks")))
        events.append((10, DomainEvents.feedbackGiven(organisation: "B", consultation: "c", key: "b1", text: "thanks")))
        events.append((16, DomainEvents.feedbackGiven(organisation: "B", consultation: "c", key: "b1", text: "again")))
        // B's profile changes after it submitted: its past submissions keep the old profile.
        events.append((20, DomainEvents.organisationProfileChanged(org("B", ["diaspora"], "local"))))
        events.append((78, DomainEvents.outcomePublished(consultation: "c", summary: "s", cites: [("A", "a1"), ("B", "b3")])))
        return events.enumerated().map { index, entry in
            RecordedEvent(
                position: Int64(index + 1), eventID: entry.1.eventID, stream: entry.1.stream, version: 1, type: entry.1.type,
                data: entry.1.data.text, metadata: "{}", recordedAt: opens.addingTimeInterval(entry.0 * day),
                idempotencyKey: entry.1.idempotencyKey)
        }
    }

    func fold(upTo position: Int64 = .max) -> LogFold {
        var fold = LogFold()
        for event in history() where event.position <= position { fold.apply(event) }
        return fold
    }

    func testEveryMetricOnAHandWorkedHistory() throws {
        let m = try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: fold(), minRatio: 0.5))
        // Active: a1 a2 b1 b2 b3 (c1 withdrawn). N = 5, K = 2 (A, B).
        XCTAssertEqual(m.submissions, 5)
        XCTAssertEqual(m.organisations, 2)
        // A is refugee-led and local (a1, a2); B is neither *as it stood* (its later change does not count): 2/5.
        XCTAssertEqual(m.affectedLedShare, 0.4)
        XCTAssertEqual(m.localNationalShare, 0.4)
        let gender = m.dimensions.first { $0.name == "gender" }!
        // gender: a1 female 1; a2 female ½ male ½; b1 male 1; b2 nonbinary→other 1; b3 male 1. 5 respondents.
        // female 1.5/5 = 0.3, male 2.5/5 = 0.5, other 1/5 = 0.2.
        XCTAssertEqual(gender.respondents, 5)
        XCTAssertEqual(gender.voiceShare["female"]!, 0.3, accuracy: 1e-12)
        XCTAssertEqual(gender.voiceShare["male"]!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(gender.voiceShare["other"]!, 0.2, accuracy: 1e-12)
        // ratios 0.3/0.5 = 0.6 and 0.5/0.5 = 1; dissimilarity ½(0.2 + 0 + 0.2) = 0.2; coverage 2/2.
        XCTAssertEqual(gender.representationRatio["female"]!!, 0.6, accuracy: 1e-12)
        XCTAssertEqual(gender.representationRatio["male"]!!, 1, accuracy: 1e-12)
        XCTAssertEqual(gender.dissimilarity!, 0.2, accuracy: 1e-12)
        XCTAssertEqual(gender.representativeness!, 0.8, accuracy: 1e-12)
        XCTAssertEqual(gender.coverage, 1)
        XCTAssertEqual(gender.underrepresented, [])
        // age: a1 young 1; b1 old ½ young ½; b2 old 1. 3 respondents: young 0.5, old 0.5.
        // ratios 0.5/0.4 = 1.25, 0.5/0.6 = 0.8333; dissimilarity ½(0.1 + 0.1) = 0.1.
        let age = m.dimensions.first { $0.name == "age" }!
        XCTAssertEqual(age.respondents, 3)
        XCTAssertEqual(age.representationRatio["young"]!!, 1.25, accuracy: 1e-12)
        XCTAssertEqual(age.representationRatio["old"]!!, 0.5 / 0.6, accuracy: 1e-12)
        XCTAssertEqual(age.representativeness!, 0.9, accuracy: 1e-12)
        // HHI: (2/5)² + (3/5)² = 0.16 + 0.36 = 0.52; effective voices 1/0.52 = 1.923077.
        XCTAssertEqual(m.concentrationHHI!, 0.52, accuracy: 1e-12)
        XCTAssertEqual(m.effectiveVoices!, 1 / 0.52, accuracy: 1e-12)
        // Feedback: a1 after 2 days, b1 first after 4 days (the second does not count): 2/5, median 3.
        XCTAssertEqual(m.feedbackRate, 0.4)
        XCTAssertEqual(m.medianDaysToFeedback!, 3, accuracy: 1e-9)
        // Outcome cites a1 and b3: 2/5.
        XCTAssertEqual(m.influenceRate, 0.4)
        // Stages used: design, implementation of 4 → 0.5. Languages: ar (ar-SY counts), en of 2 → 1; fr is not listed.
        XCTAssertEqual(m.stageCoverage, 0.5)
        XCTAssertEqual(m.languageCoverage, 1)
        XCTAssertEqual(m.json["effective_voices"], .number("1.923077"))

        // min_ratio 0.7 makes female (0.6) underrepresented; the worst comes first.
        let strict = try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: fold(), minRatio: 0.9))
        XCTAssertEqual(strict.dimensions.first { $0.name == "gender" }!.underrepresented, ["female"])
        XCTAssertEqual(strict.dimensions.first { $0.name == "age" }!.underrepresented, ["old"])
    }

    func testAsOfAnEarlierPositionCountsOnlyWhatWasThere() throws {
        // Up to position 6: the registrations, the opening, a1 and a2; no outcome yet.
        let early = try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: fold(upTo: 6), minRatio: 0.5))
        XCTAssertEqual(early.position, 6)
        XCTAssertEqual(early.submissions, 2)
        XCTAssertEqual(early.organisations, 1)
        XCTAssertNil(early.influenceRate, "null before an outcome is published")
        XCTAssertEqual(early.effectiveVoices, 1)
        XCTAssertEqual(early.dimensions.first { $0.name == "age" }!.representativeness, 1 - 0.5 * (0.6 + 0.6),
                       "age: only a1 (young) — voice young 1, old 0: ½(|1−0.4| + |0−0.6|)")
        XCTAssertEqual(early, ConsultationMetrics(consultation: "c", fold: fold(upTo: 6), minRatio: 0.5), "the same position, the same numbers")
    }

    func testAuditJudgesEachCriterionAndGivesAVerdict() throws {
        let full = fold()
        let m = try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: full, minRatio: 0.5))
        let audit = Audit(metrics: m, consultation: full.registry.consultations["c"]!, policy: Policy(), now: full.time)
        let status = Dictionary(uniqueKeysWithValues: audit.criteria.map { ($0.name, $0.status) })
        XCTAssertEqual(status["affected_led_share"], .pass)  // 0.4 ≥ 0.25
        XCTAssertEqual(status["representativeness"], .pass)  // min(0.8, 0.9) = 0.8 ≥ 0.8
        XCTAssertEqual(status["coverage"], .pass)  // 1 ≥ 0.8
        XCTAssertEqual(status["effective_voices"], .fail)  // 1.92 < 5
        XCTAssertEqual(status["feedback_rate"], .fail)  // judged: day 78 is past closes_at + 30 (day 75); 0.4 < 0.9
        XCTAssertEqual(status["influence_rate"], .pass)  // 0.4 > 0
        XCTAssertEqual(status["stage_coverage"], .fail)  // 0.5 < 0.75
        XCTAssertEqual(status["window_days"], .pass)  // 45 ≥ 28
        XCTAssertEqual(audit.verdict, "partial")

        // Before the outcome (position 15 is the profile change on day 20): feedback not yet judged, influence unknown.
        let earlier = fold(upTo: 15)
        let before = Audit(
            metrics: ConsultationMetrics(consultation: "c", fold: earlier, minRatio: 0.5)!,
            consultation: earlier.registry.consultations["c"]!, policy: Policy(), now: earlier.time)
        let earlyStatus = Dictionary(uniqueKeysWithValues: before.criteria.map { ($0.name, $0.status) })
        XCTAssertEqual(earlyStatus["feedback_rate"], .insufficientData)
        XCTAssertEqual(earlyStatus["influence_rate"], .insufficientData)
        XCTAssertEqual(before.verdict, "partial")

        // Tokenistic: feedback and influence both fail.
        var policy = Policy()
        policy.influenceRate = 0.5
        XCTAssertEqual(Audit(metrics: m, consultation: full.registry.consultations["c"]!, policy: policy, now: full.time).verdict, "tokenistic")
    }

    func testPolicyFileIsChecked() throws {
        let shipped = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policy/default.json"), encoding: .utf8)
        XCTAssertEqual(try Policy(json: shipped), Policy(), "the shipped file says what the code defaults to")
        XCTAssertThrowsError(try Policy(json: #"{"min_ratoi": 0.5}"#))
        XCTAssertThrowsError(try Policy(json: #"{"min_ratio": "high"}"#))
    }
}
