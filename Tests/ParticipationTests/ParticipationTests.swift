import EventRecords
import JSON
import Domain
import Foundation
import Participation
import XCTest

/// Each metric on a small history worked out by hand (the arithmetic is in the comments).
final class ParticipationTests: XCTestCase {
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
            events.append((at, NewEvent(Commands.received(SubmissionKey(organisation: organisation, consultation: "c", key: key), body: body), metadata: .object([]))))
        }
        events.append((0, NewEvent(.organisationRegistered(org("A", ["refugees"], "local")))))
        events.append((0, NewEvent(.organisationRegistered(org("B", [], "global")))))
        events.append((0, NewEvent(.organisationRegistered(org("C", ["women"], "national")))))
        events.append((0, NewEvent(.consultationOpened(Consultation(
            id: "c", title: "t", convener: "v", opensAt: opens, closesAt: opens.addingTimeInterval(45 * day),
            stages: ["design", "implementation", "monitoring", "evaluation"], languages: ["ar", "en"],
            baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["young": 0.4, "old": 0.6]])))))
        submit(4, "A", "a1", stage: "design", language: "ar", represents: [("gender", ["female"]), ("age", ["young"])])
        submit(5, "A", "a2", stage: "design", language: "ar-SY", represents: [("gender", ["female", "male"])])
        submit(6, "B", "b1", stage: "implementation", language: "en", represents: [("gender", ["male"]), ("age", ["old", "young"])])
        submit(7, "B", "b2", stage: "design", language: "en", represents: [("gender", ["nonbinary"]), ("age", ["old"])])
        submit(8, "C", "c1", stage: "design", language: "fr", represents: [])
        submit(9, "B", "b3", stage: "design", language: "en", represents: [("gender", ["male"])])
        events.append((10, NewEvent(Commands.withdraw(SubmissionKey(organisation: "C", consultation: "c", key: "c1"), reason: nil), metadata: .object([]))))
        events.append((6, NewEvent(.feedbackGiven(FeedbackGiven(SubmissionKey(organisation: "A", consultation: "c", key: "a1"), text: "thanks")))))
        events.append((10, NewEvent(.feedbackGiven(FeedbackGiven(SubmissionKey(organisation: "B", consultation: "c", key: "b1"), text: "thanks")))))
        events.append((16, NewEvent(.feedbackGiven(FeedbackGiven(SubmissionKey(organisation: "B", consultation: "c", key: "b1"), text: "again")))))
        // B's profile changes after it submitted: its past submissions keep the old profile.
        events.append((20, NewEvent(.organisationProfileChanged(org("B", ["diaspora"], "local")))))
        events.append((78, NewEvent(.outcomePublished(OutcomePublished(consultation: "c", summary: "s", cites: [("A", "a1"), ("B", "b3")].map { Citation(organisation: $0.0, key: $0.1) })))))
        return events.enumerated().map { index, entry in
            RecordedEvent(
                position: Int64(index + 1), eventID: entry.1.eventID, stream: entry.1.stream, version: 1, type: entry.1.type,
                data: entry.1.data.text, metadata: "{}", recordedAt: opens.addingTimeInterval(entry.0 * day),
                idempotencyKey: entry.1.idempotencyKey)
        }
    }

    func fold(upTo position: Int64 = .max) -> LogFold {
        var fold = LogFold()
        for event in history() where event.position <= position {
            XCTAssertNoThrow(try fold.apply(event))
        }
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

    /// The projector's way: resumed from a snapshot at any position, holding no submission between
    /// events and reading earlier ones back from the log when an event refers to them. It ends with
    /// the same numbers and audit as the fold that kept everything.
    func testAFoldResumedFromASnapshotAndHoldingNoSubmissionAgrees() throws {
        let events = try history().map { try FoldEvent($0) }
        let whole = fold()
        let expected = ConsultationMetrics(consultation: "c", fold: whole, minRatio: 0.5)!.rows
        let registryTypes = Set(["ConsultationOpened", "ConsultationClosed", "OrganisationRegistered", "OrganisationProfileChanged"])
        for split in 0...events.count {
            var partial = LogFold()
            for event in events.prefix(split) { partial.apply(event) }
            var states: [String: Data] = [:]
            for id in partial.consultationsWithState { states[id] = try partial.consultationState(id) }
            var resumed = try LogFold.restore(
                position: partial.position, time: partial.time,
                registryEvents: events.filter { registryTypes.contains($0.type) }, states: states)
            for event in events.dropFirst(split) {
                let needed = resumed.submissionsNeeded(by: [event])
                let streams = Set(needed.flatMap { ["\($0.organisation)/\($0.consultation)/\($0.key)"] })
                resumed.remember(events.filter { event in
                    guard let consultation = event.consultation else { return false }
                    return streams.contains("\(event.organisation ?? "")/\(consultation)/\(event.key ?? "")")
                })
                resumed.apply(event)
                resumed.forgetSubmissions()
            }
            XCTAssertEqual(resumed.position, whole.position)
            let rows = ConsultationMetrics(consultation: "c", fold: resumed, minRatio: 0.5)!.rows
            XCTAssertEqual(rows.map(\.metric), expected.map(\.metric), "split at \(split)")
            for (row, wanted) in zip(rows, expected) {
                XCTAssertEqual(row.value, wanted.value, "\(row.metric) \(row.dimension ?? "") \(row.group ?? ""), split at \(split)")
            }
            XCTAssertEqual(resumed.participation(of: ["c"]), whole.participation(of: ["c"]), "split at \(split)")
        }
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

    // MARK: - Exact thresholds, the effective close, language matching

    /// Folds `events` (day after `opens`, event) at positions 1, 2, ...
    func fold(_ events: [(Double, NewEvent)]) -> LogFold {
        var fold = LogFold()
        for (index, entry) in events.enumerated() {
            XCTAssertNoThrow(try fold.apply(RecordedEvent(
                position: Int64(index + 1), eventID: entry.1.eventID, stream: entry.1.stream, version: 1, type: entry.1.type,
                data: entry.1.data.text, metadata: "{}", recordedAt: opens.addingTimeInterval(entry.0 * day),
                idempotencyKey: entry.1.idempotencyKey)))
        }
        return fold
    }

    func organisation(_ id: String, leadership: [String] = []) -> NewEvent {
        NewEvent(.organisationRegistered(
            Organisation(id: id, name: id, type: "ngo", leadership: leadership, level: "local", country: "JOR")))
    }

    func consultation(
        days: Double = 45, languages: [String] = ["en"], baseline: [String: [String: Double]] = ["g": ["a": 0.5, "b": 0.5]]
    ) -> NewEvent {
        NewEvent(.consultationOpened(Consultation(
            id: "c", title: "t", convener: "v", opensAt: opens, closesAt: opens.addingTimeInterval(days * day),
            stages: ["design"], languages: languages, baseline: baseline)))
    }

    func submission(_ organisation: String, _ key: String, language: String = "en", groups: [String] = []) -> NewEvent {
        NewEvent(Commands.received(SubmissionKey(organisation: organisation, consultation: "c", key: key), body: .object([
                ("stage", .string("design")), ("language", .string(language)), ("text", .string("t")),
                ("represents", .object([("g", .array(groups.map(JSONValue.string)))])),
            ])), metadata: .object([]))
    }

    func audit(_ fold: LogFold, policy: Policy = Policy()) throws -> (ConsultationMetrics, [String: Audit.Criterion]) {
        let metrics = try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: fold, minRatio: policy.minRatio))
        let audit = Audit(metrics: metrics, consultation: fold.registry.consultations["c"]!, policy: policy, now: fold.time)
        return (metrics, Dictionary(uniqueKeysWithValues: audit.criteria.map { ($0.name, $0) }))
    }

    func testAValueExactlyOnItsThresholdPasses() throws {
        // Five organisations, one submission each: HHI 5 × (1/5)² = 1/5, effective voices exactly 5
        // (in binary floating point 1 / 0.2000000000000001 = 4.999999999999999, "5 is below 5").
        var events: [(Double, NewEvent)] = [(0, consultation())]
        for id in ["o1", "o2", "o3", "o4", "o5"] {
            events += [(0, organisation(id)), (1, submission(id, "k", groups: ["a"]))]
        }
        let (m, criteria) = try audit(fold(events))
        XCTAssertEqual(m.effectiveVoices, 5)
        XCTAssertEqual(m.exact.effectiveVoices, Rational(5))
        XCTAssertEqual(criteria["effective_voices"]!.status, .pass)
        XCTAssertEqual(criteria["effective_voices"]!.value, 5)
        XCTAssertEqual(criteria["effective_voices"]!.reason, "5 is at or above 5")

        // Baseline a 0.4, b 0.6; one submission lists a, four list b: voice a 0.2, b 0.8, other 0;
        // dissimilarity ½(0.2 + 0.2 + 0) = 0.2, representativeness exactly 0.8 ≥ 0.8.
        let shares = ["g": ["a": 0.4, "b": 0.6]]
        events = [(0, consultation(baseline: shares))]
        for (index, group) in ["a", "b", "b", "b", "b"].enumerated() {
            events += [(0, organisation("o\(index)")), (1, submission("o\(index)", "k", groups: [group]))]
        }
        let (balanced, judged) = try audit(fold(events))
        let g = try XCTUnwrap(balanced.dimensions.first)
        XCTAssertEqual(g.exactRepresentativeness, Rational(4, 5))
        XCTAssertEqual(g.representativeness, 0.8)
        XCTAssertEqual(judged["representativeness"]!.status, .pass)
        XCTAssertEqual(judged["representativeness"]!.reason, "0.8 is at or above 0.8")
        // A group exactly at min_ratio is not underrepresented: a 0.2 / 0.4 = 0.5, not < 0.5.
        XCTAssertEqual(g.underrepresented, [])
        XCTAssertEqual(ConsultationMetrics(consultation: "c", fold: fold(events), minRatio: 0.5000001)!.dimensions[0].underrepresented, ["a"])
    }

    func testTheShownValueNeverContradictsTheStatus() throws {
        // Two of three affected-led: 0.666666…, against a threshold of 0.666667 it fails, although six
        // decimals would round it to 0.666667: the reason shows as many digits as it takes.
        var events: [(Double, NewEvent)] = [(0, consultation())]
        for (index, leadership) in [["refugees"], ["diaspora"], []].enumerated() {
            events += [(0, organisation("o\(index)", leadership: leadership)), (1, submission("o\(index)", "k", groups: ["a"]))]
        }
        var policy = Policy()
        policy.affectedLedShare = 0.666667
        var criterion = try audit(fold(events), policy: policy).1["affected_led_share"]!
        XCTAssertEqual(criterion.status, .fail)
        XCTAssertEqual(criterion.threshold, "≥ 0.666667")
        XCTAssertEqual(criterion.reason, "0.6666667 is below 0.666667")
        XCTAssertEqual(criterion.shown, "0.6666667")
        // And the other way: 0.6666666 is passed by 2/3, which six decimals would show as 0.666667.
        policy.affectedLedShare = 0.6666666
        criterion = try audit(fold(events), policy: policy).1["affected_led_share"]!
        XCTAssertEqual(criterion.status, .pass)
        XCTAssertEqual(criterion.reason, "0.666667 is at or above 0.6666666")
        // A threshold with more decimals than six is shown whole.
        policy.affectedLedShare = 0.66666666666666
        criterion = try audit(fold(events), policy: policy).1["affected_led_share"]!
        XCTAssertEqual(criterion.status, .pass)
        XCTAssertEqual(criterion.threshold, "≥ 0.66666666666666")
        XCTAssertEqual(criterion.reason, "0.666667 is at or above 0.66666666666666")
    }

    func testRationalsAreExact() throws {
        XCTAssertEqual(Rational(decimal: "0.8"), Rational(4, 5))
        XCTAssertEqual(Rational(decimal: "-2.50e-1"), Rational(-1, 4))
        XCTAssertEqual(Rational(decimal: "1E+2"), Rational(100))
        XCTAssertNil(Rational(decimal: "0.8x"))
        XCTAssertNil(Rational(decimal: "."))
        XCTAssertEqual(Rational(shortestDecimal: 0.1), Rational(1, 10))
        XCTAssertNotEqual(Rational(exactly: 0.1), Rational(1, 10), "0.1 in binary is not 1/10")
        XCTAssertEqual(Rational(exactly: 0.1)?.double, 0.1)
        XCTAssertEqual(Rational(1, 3).double, 1.0 / 3.0)
        XCTAssertEqual(Rational(2, 3).rounded(places: 6), "0.666667")
        XCTAssertEqual((Rational(1, 10) + Rational(2, 10)), Rational(3, 10))
        XCTAssertEqual((Rational(1, 10) + Rational(2, 10)).double, 0.3, "not 0.30000000000000004")
        XCTAssertTrue(Rational(-1, 3) < Rational(-1, 4))
        // Large numbers stay exact: (10^30 + 1) / 10^30 is above 1, and reduces.
        let big = try XCTUnwrap(Rational(decimal: "1.000000000000000000000000000001"))
        XCTAssertTrue(big > .one)
        XCTAssertEqual(big - .one, Rational(decimal: "1e-30"))
        XCTAssertEqual(big.double, 1)
        XCTAssertEqual(Rational(decimal: "123456789012345678901234567890")! / Rational(decimal: "123456789012345678901234567890")!, .one)
        for (n, d) in [(1, 7), (22, 7), (1_000_003, 999_983), (5, 1), (0, 9)] {
            XCTAssertEqual(Rational(n, d).double, Double(n) / Double(d), "\(n)/\(d)")
        }
    }

    func testPolicyThresholdsAreTheDecimalsWritten() throws {
        XCTAssertEqual(try Policy(json: #"{"effective_voices": 5.000000000000000}"#).effectiveVoices, 5)
        XCTAssertThrowsError(try Policy(json: #"{"effective_voices": 4.99999999999999999999}"#), "a Double would make it 5")
        XCTAssertThrowsError(try Policy(json: #"{"window_days": 1e999}"#))
    }

    func testTheEffectiveCloseIsTheEarlierOfClosesAtAndTheCloseCommand() throws {
        // Announced for 60 days, closed by command after one: judged as one day long, and feedback is
        // judged from day 1 + 30, not day 60 + 30.
        let events: [(Double, NewEvent)] = [
            (0, organisation("o1")), (0, consultation(days: 60)), (0.5, submission("o1", "k", groups: ["a"])),
            (1, NewEvent(.consultationClosed(ConsultationClosed(id: "c", closedAt: opens.addingTimeInterval(day))))),
            (32, NewEvent(.outcomePublished(OutcomePublished(consultation: "c", summary: "s", cites: [("o1", "k")].map { Citation(organisation: $0.0, key: $0.1) })))),
        ]
        let closed = fold(events)
        XCTAssertEqual(Audit.effectiveClose(of: closed.registry.consultations["c"]!), opens.addingTimeInterval(day))
        let criteria = try audit(closed).1
        XCTAssertEqual(criteria["window_days"]!.status, .fail)
        XCTAssertEqual(criteria["window_days"]!.value, 1)
        XCTAssertTrue(criteria["window_days"]!.reason.hasPrefix("1 is below 28 (closed by command"), criteria["window_days"]!.reason)
        XCTAssertEqual(criteria["feedback_rate"]!.status, .fail, "day 32 is past the effective close + 30 days (day 31)")

        // On day 30 it is not judged yet: from day 31.
        let early = try audit(fold(Array(events.dropLast()) + [(30, organisation("o2"))])).1
        XCTAssertEqual(early["feedback_rate"]!.status, .insufficientData)
        XCTAssertEqual(early["feedback_rate"]!.reason, "judged from 2027-02-01T00:00:00Z (closed by command 2027-01-02T00:00:00Z + 30 days)")

        // A close command after closes_at changes nothing: closes_at is earlier.
        let late = fold([
            (0, organisation("o1")), (0, consultation(days: 28)), (0.5, submission("o1", "k", groups: ["a"])),
            (40, NewEvent(.consultationClosed(ConsultationClosed(id: "c", closedAt: opens.addingTimeInterval(40 * day))))),
        ])
        let onTime = try audit(late).1
        XCTAssertEqual(onTime["window_days"]!.status, .pass)
        XCTAssertEqual(onTime["window_days"]!.reason, "28 is at or above 28")
        XCTAssertEqual(onTime["feedback_rate"]!.status, .insufficientData, "judged from closes_at (day 28) + 30")
    }

    func testLanguagesMatchByBasicFilteringAndCountOnce() throws {
        func coverage(_ listed: [String], _ used: [String]) throws -> Double? {
            var events: [(Double, NewEvent)] = [(0, organisation("o1")), (0, consultation(languages: listed))]
            for (index, tag) in used.enumerated() { events.append((1, submission("o1", "k\(index)", language: tag, groups: ["a"]))) }
            return try XCTUnwrap(ConsultationMetrics(consultation: "c", fold: fold(events), minRatio: 0.5)).languageCoverage
        }
        XCTAssertEqual(try coverage(["pt-BR"], ["pt-PT"]), 0, "pt-PT does not use pt-BR")
        XCTAssertEqual(try coverage(["pt-BR"], ["PT-br"]), 1, "case-insensitive")
        XCTAssertEqual(try coverage(["pt-BR"], ["pt-BR-x-rio"]), 1, "extends it with subtags")
        XCTAssertEqual(try coverage(["pt"], ["pt-PT"]), 1)
        XCTAssertEqual(try coverage(["ar"], ["ary"]), 0, "a longer language, not a subtag")
        XCTAssertEqual(try coverage(["ar", "pt-BR"], ["AR-SY", "pt"]), 0.5, "pt does not use pt-BR")
        XCTAssertEqual(try coverage(["en", "EN"], ["en"]), 1, "listed twice, counted once (also in the denominator)")
        XCTAssertEqual(try coverage(["en", "EN", "ar"], ["en-GB"]), 0.5)
    }
    /// Small cells: a count of 1 to min_cell − 1 and the shares computed from it are withheld; a lone
    /// withheld cell takes the next smallest with it, so no total gives it away; zero is shown.
    func testSmallCellSuppressionWithholdsCellsAndTheirComplements() throws {
        XCTAssertEqual(Suppression.cells([("a", 10), ("b", 3), ("c", 0)], threshold: 5), ["a", "b"], "the complement, not the zero")
        XCTAssertEqual(Suppression.cells([("a", 10), ("b", 7), ("c", 2)], threshold: 5), ["b", "c"], "the smallest other cell")
        XCTAssertEqual(Suppression.cells([("a", 1), ("b", 2), ("c", 9)], threshold: 5), ["a", "b"], "two already: no complement")
        XCTAssertEqual(Suppression.cells([("a", 5), ("b", 9)], threshold: 5), [], "min_cell itself is shown")

        // The hand-worked history: 5 submissions from 2 organisations, 2 with feedback.
        let metrics = ConsultationMetrics(consultation: "c", fold: fold(), minRatio: 0.5)!
        let gender = metrics.dimensions.first { $0.name == "gender" }!
        XCTAssertEqual(gender.listed, ["female": 2, "male": 3, "other": 1])
        let five = Suppression(metrics: metrics, feedbackGiven: 2, threshold: 5)
        XCTAssertFalse(five.figures.contains("submissions"), "5 submissions is not a small cell")
        XCTAssertTrue(five.figures.isSuperset(of: ["organisations", "effective_voices", "concentration_hhi", "median_days_to_feedback"]))
        XCTAssertFalse(five.figures.contains("feedback_rate"), "a share of 5 submissions is shown")
        XCTAssertEqual(five.groups["gender"], ["female", "male", "other"])
        XCTAssertEqual(five.respondents, ["age"], "3 submissions list an age group")
        XCTAssertEqual(five.groups["age"], ["old", "young"])
        XCTAssertEqual(five.indices, ["age", "gender"])
        XCTAssertTrue(five.withholds(criterion: "representativeness"))
        XCTAssertFalse(five.withholds(criterion: "feedback_rate"))

        let three = Suppression(metrics: metrics, feedbackGiven: 2, threshold: 3)
        XCTAssertEqual(three.groups["gender"], ["female", "other"])
        XCTAssertEqual(three.groups["age"], ["old", "young"])
        XCTAssertTrue(three.respondents.isEmpty)
        // In the JSON every withheld value is null, and the shown voice shares never sum to one less a
        // single unknown.
        let json = three.apply(to: metrics.json)
        XCTAssertEqual(json.value(at: ["voice_share", "gender", "female"]), .null)
        XCTAssertEqual(json.value(at: ["voice_share", "gender", "male"]), metrics.json.value(at: ["voice_share", "gender", "male"]))
        XCTAssertEqual(json.value(at: ["representativeness", "gender"]), .null)
        XCTAssertEqual(json.value(at: ["submissions"]), .number("5"))
    }
}
