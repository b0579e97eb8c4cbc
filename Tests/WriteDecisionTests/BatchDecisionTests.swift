import Domain
import EventRecords
import Foundation
import JSON
import LineProtocol
import WriteDecision
import XCTest

/// The write path's decisions, from a write's shape to its reply, without a database: each test
/// plays the committer, answering every action as PostgreSQL would in one situation.
final class BatchDecisionTests: XCTestCase {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func consultation(_ id: String, closesIn seconds: Double = 86_400) -> Consultation {
        Consultation(
            id: id, title: "T", convener: "C", opensAt: now.addingTimeInterval(-86_400), closesAt: now.addingTimeInterval(seconds),
            stages: ["drafting"], languages: ["en"], baseline: ["gender": ["f": 0.5, "m": 0.5]])
    }

    /// A registry at `position` holding `consultations`.
    static func registry(_ consultations: [Consultation], at position: Int64 = 10) -> Registry {
        var registry = Registry()
        for (index, consultation) in consultations.enumerated() { registry.apply(position: Int64(index + 1), .consultationOpened(consultation)) }
        registry.advance(to: position)
        return registry
    }

    static func body(stage: String = "drafting", represents: String = #"{"gender":["f"]}"#) -> JSONValue {
        try! JSONParser().parse(#"{"stage":"\#(stage)","language":"en","text":"We ask for schools.","represents":\#(represents)}"#)
    }

    static func submit(_ key: String, to consultation: String = "c1", body: JSONValue = body()) -> PreparedWrite {
        try! PreparedWrite.submission(
            SubmissionKey(organisation: "o1", consultation: consultation, key: key), body: body, metadata: .object([])
        ).get()
    }

    static func withdraw(_ key: String, from consultation: String = "c1") -> PreparedWrite {
        PreparedWrite.withdrawal(SubmissionKey(organisation: "o1", consultation: consultation, key: key), reason: nil, metadata: .object([]))
    }

    // MARK: Shape

    func testAShapelessBodyIsRefusedBeforeItIsQueued() {
        let refused = PreparedWrite.submission(
            SubmissionKey(organisation: "o1", consultation: "c1", key: "k"), body: .array([]), metadata: .object([]))
        guard case .failure(let error) = refused else { return XCTFail("a body that is not an object was prepared") }
        XCTAssertEqual(error.reply, .error(.invalid, "body: must be a JSON object"))
    }

    func testPreparedEventsAreKeyedForRetries() {
        let submission = Self.submit("k1")
        XCTAssertEqual(submission.event.type, "SubmissionReceived")
        XCTAssertEqual(submission.event.idempotencyKey, "submission-o1/c1/k1")
        XCTAssertTrue(submission.comparedOpened, "its text is sealed, so only opened can it be compared")
        let withdrawal = Self.withdraw("k1")
        XCTAssertEqual(withdrawal.event.idempotencyKey, "submission-o1/c1/k1#withdrawn")
        XCTAssertEqual(withdrawal.event.expectedVersion, .exactly(1))
    }

    // MARK: The common path

    func testAdmittedWritesAreAnsweredOKOnlyOnceTheStandbyConfirms() {
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .append([0, 1], registryAsOf: 10))
        XCTAssertEqual(decision.appended([.stored(position: 11), .stored(position: 12)]), .confirmStandby)
        XCTAssertEqual(decision.confirmed(true), .answer([.stored(position: 11), .stored(position: 12)]))
    }

    func testUnconfirmedWritesAreAnsweredBusy() {
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2", to: "nope")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .catchUpRegistry)
        XCTAssertEqual(decision.registryCaughtUp(Self.registry([Self.consultation("c1")], at: 11)), .append([0], registryAsOf: 11))
        XCTAssertEqual(decision.appended([.stored(position: 12)]), .confirmStandby)
        guard case .answer(let outcomes) = decision.confirmed(false) else { return XCTFail("no answer") }
        XCTAssertEqual(outcomes[0], .busy, "committed but not on the standby: never OK")
        XCTAssertEqual(outcomes[1], .refusedByRules(DomainError(.notFound, "no consultation nope")))
    }

    // MARK: The registry

    func testARefusalFromTheFollowedRegistryIsCheckedAgainstAFreshOne() {
        // c2 was opened a moment ago: the followed registry has not seen it yet.
        var decision = BatchDecision([Self.submit("k1", to: "c2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .catchUpRegistry)
        let fresh = Self.registry([Self.consultation("c1"), Self.consultation("c2")], at: 12)
        XCTAssertEqual(decision.registryCaughtUp(fresh), .append([0], registryAsOf: 12))
    }

    func testARefusalFromAFreshRegistryIsAnsweredWithoutAppending() {
        var decision = BatchDecision(
            [Self.submit("k1", body: Self.body(stage: "nowhere"))], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .catchUpRegistry)
        guard case .answer(let outcomes) = decision.registryCaughtUp(Self.registry([Self.consultation("c1")])) else { return XCTFail("no answer") }
        guard case .refusedByRules(let error) = outcomes[0] else { return XCTFail("\(outcomes[0])") }
        XCTAssertEqual(error.field, "stage")
    }

    func testAMovedRegistryDecidesTheBatchAgain() {
        var decision = BatchDecision([Self.submit("k1")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .append([0], registryAsOf: 10))
        XCTAssertEqual(decision.registryMoved(), .catchUpRegistry)
        // Meanwhile c1 was closed: the batch is decided again against that.
        var closed = Self.consultation("c1")
        closed.closedAt = Self.now.addingTimeInterval(-1)
        XCTAssertEqual(decision.registryCaughtUp(Self.registry([closed], at: 13)), .findEarlier([0]))
        guard case .answer(let outcomes) = decision.foundEarlier([nil]) else { return XCTFail("no answer") }
        XCTAssertEqual(outcomes, [.refusedByRules(DomainError(.closed, "consultation c1 is not open for submissions now"))])
    }

    // MARK: Retries and conflicts

    func testATakenKeyWithSealedContentIsComparedOpened() {
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        XCTAssertEqual(
            decision.appended([.keyTaken(position: 4), .keyTaken(position: 5)]),
            .compare([.init(write: 0, position: 4), .init(write: 1, position: 5)]))
        XCTAssertEqual(decision.compared([true, false]), .confirmStandby)
        XCTAssertEqual(decision.confirmed(true), .answer([.stored(position: 4), .conflict(position: 5)]))
    }

    func testAWithdrawalsReasonIsSealedSoItsTakenKeyIsComparedOpened() {
        var decision = BatchDecision([Self.withdraw("k1")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        XCTAssertEqual(decision.appended([.keyTaken(position: 7)]), .compare([.init(write: 0, position: 7)]))
        XCTAssertEqual(decision.compared([false]), .answer([.conflict(position: 7)]))
    }

    func testACatchUpThatFailsAnswersNoRefusalOfTheFollowedRegistry() {
        var decision = BatchDecision([Self.submit("k1", to: "c2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        XCTAssertEqual(decision.start(), .catchUpRegistry)
        XCTAssertEqual(decision.failed(.unavailable), .answer([.busy]), "c2 may exist: not NOT_FOUND")
    }

    func testAWithdrawalOfNothingIsNotFound() {
        var decision = BatchDecision([Self.withdraw("k9")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        XCTAssertEqual(decision.appended([.versionConflict]), .answer([.noSubmission]))
    }

    func testARetryAfterTheConsultationClosedStillLearnsItsPosition() {
        var closed = Self.consultation("c1")
        closed.closedAt = Self.now.addingTimeInterval(-60)
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2"), Self.submit("k3")], registry: Self.registry([closed]), now: Self.now)
        XCTAssertEqual(decision.start(), .catchUpRegistry, "closed, as the followed registry says: asked afresh")
        XCTAssertEqual(decision.registryCaughtUp(Self.registry([closed])), .findEarlier([0, 1, 2]))
        XCTAssertEqual(
            decision.foundEarlier([.same(position: 3), .other(position: 4), nil]), .confirmStandby)
        guard case .answer(let outcomes) = decision.confirmed(true) else { return XCTFail("no answer") }
        XCTAssertEqual(outcomes[0], .stored(position: 3))
        XCTAssertEqual(outcomes[1], .conflict(position: 4))
        XCTAssertEqual(outcomes[2], .refusedByRules(DomainError(.closed, "consultation c1 is not open for submissions now")))
    }

    // MARK: Failures

    func testPerEventAnswersOfTheAppend() {
        var decision = BatchDecision(
            (1...4).map { Self.submit("k\($0)") }, registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        XCTAssertEqual(decision.appended([.stored(position: 11), .contentRefused("bad"), .failed, .unavailable]), .confirmStandby)
        XCTAssertEqual(decision.confirmed(true), .answer([.stored(position: 11), .refused(message: "bad"), .failed, .busy]))
    }

    func testALostDatabaseAnswersEveryWriteBusy() {
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        XCTAssertEqual(decision.appended([.stored(position: 11), .keyTaken(position: 3)]), .compare([.init(write: 1, position: 3)]))
        // Gone before the comparison: the stored one cannot be confirmed either.
        XCTAssertEqual(decision.failed(.unavailable), .answer([.busy, .busy]))
    }

    func testAnotherFailureFailsWhatIsUndecidedAndStillConfirmsWhatIsStored() {
        var decision = BatchDecision([Self.submit("k1"), Self.submit("k2")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        _ = decision.appended([.stored(position: 11), .keyTaken(position: 3)])
        XCTAssertEqual(decision.failed(.failed), .confirmStandby)
        XCTAssertEqual(decision.confirmed(true), .answer([.stored(position: 11), .failed]))
    }

    func testAFailureWhileConfirmingIsBusy() {
        var decision = BatchDecision([Self.submit("k1")], registry: Self.registry([Self.consultation("c1")]), now: Self.now)
        _ = decision.start()
        _ = decision.appended([.stored(position: 11)])
        XCTAssertEqual(decision.failed(.failed), .answer([.busy]))
    }

    // MARK: Every path

    /// Random batches against random database answers (seeded: CONSULT_TEST_SEED replays a run):
    /// every walk ends in one answer per write, never OK unless the standby confirmed after the
    /// write was stored, and never a rules refusal that only the followed registry made.
    func testEveryWalkEndsInOneLawfulAnswerPerWrite() {
        let seed = ProcessInfo.processInfo.environment["CONSULT_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        var random = SeededGenerator(seed: seed)
        var closed = Self.consultation("c3")
        closed.closedAt = Self.now.addingTimeInterval(-1)
        let consultations = [Self.consultation("c1"), Self.consultation("c2"), closed]
        for walk in 0..<3_000 {
            let count = Int.random(in: 1...6, using: &random)
            let writes = (0..<count).map { index -> PreparedWrite in
                let target = ["c1", "c2", "c3", "c9"].randomElement(using: &random)!
                switch Int.random(in: 0..<3, using: &random) {
                case 0: return Self.withdraw("k\(index)", from: target)
                case 1: return Self.submit("k\(index)", to: target, body: Self.body(stage: "elsewhere"))
                default: return Self.submit("k\(index)", to: target)
                }
            }
            // The followed registry may lack c2 (opened a moment ago); the fresh one has it.
            let followed = Self.registry(Bool.random(using: &random) ? consultations : [consultations[0], consultations[2]])
            let fresh = Self.registry(consultations, at: 20)
            var decision = BatchDecision(writes, registry: followed, now: Self.now)
            var action = decision.start()
            var caughtUp = false
            var confirmedAfterStore = false
            var steps = 0
            while !isAnswer(action) && steps < 50 {
                steps += 1
                if Int.random(in: 0..<40, using: &random) == 0 {
                    action = decision.failed(Bool.random(using: &random) ? .unavailable : .failed)
                    confirmedAfterStore = false
                    continue
                }
                switch action {
                case .append(let indices, _):
                    confirmedAfterStore = false
                    if Int.random(in: 0..<8, using: &random) == 0 {
                        action = decision.registryMoved()
                    } else {
                        action = decision.appended(indices.map { _ in
                            [AppendAnswer.stored(position: 30), .keyTaken(position: 5), .versionConflict, .contentRefused("x"), .unavailable, .failed]
                                .randomElement(using: &random)!
                        })
                    }
                case .catchUpRegistry:
                    caughtUp = true
                    action = decision.registryCaughtUp(fresh)
                case .compare(let comparisons):
                    XCTAssertTrue(comparisons.allSatisfy { writes[$0.write].comparedOpened }, "seed \(seed)")
                    action = decision.compared(comparisons.map { _ in Bool.random(using: &random) })
                case .findEarlier(let asked):
                    action = decision.foundEarlier(asked.map { _ in
                        [nil, EarlierEvent.same(position: 2), .other(position: 2)].randomElement(using: &random)!
                    })
                case .confirmStandby:
                    confirmedAfterStore = Bool.random(using: &random)
                    action = decision.confirmed(confirmedAfterStore)
                case .answer:
                    break
                }
            }
            guard case .answer(let outcomes) = action else { return XCTFail("walk \(walk) does not end (seed \(seed))") }
            XCTAssertEqual(outcomes.count, count, "seed \(seed)")
            if outcomes.contains(where: \.isStored) { XCTAssertTrue(confirmedAfterStore, "OK without the standby (seed \(seed))") }
            for (write, outcome) in zip(writes, outcomes) {
                if case .refusedByRules = outcome { XCTAssertTrue(caughtUp, "refused by a registry not read for the batch (seed \(seed))") }
                if write.consultation == "c9", outcome.isStored { XCTFail("stored into no consultation (seed \(seed))") }
            }
        }
    }

    private func isAnswer(_ action: BatchDecision.Action) -> Bool {
        if case .answer = action { return true } else { return false }
    }
}

/// The wire's words for every outcome (SPEC: error codes).
final class WriteWordingTests: XCTestCase {
    func testEveryOutcomeHasItsLine() {
        let submit = WriteWording(verb: .submit, key: "k1", consultation: "c1")
        let withdraw = WriteWording(verb: .withdraw, key: "k1", consultation: "c1")
        XCTAssertEqual(submit.reply(for: .stored(position: 42)).line, "OK SUBMIT k1 42\n")
        XCTAssertEqual(withdraw.reply(for: .stored(position: 43)).line, "OK WITHDRAW k1 43\n")
        XCTAssertEqual(submit.reply(for: .conflict(position: 7)).line, "ERR CONFLICT key k1 already holds a different submission (position 7)\n")
        XCTAssertEqual(
            withdraw.reply(for: .conflict(position: 7)).line, "ERR CONFLICT submission k1 was already withdrawn with another reason (position 7)\n")
        XCTAssertEqual(withdraw.reply(for: .noSubmission).line, "ERR NOT_FOUND no submission k1 of yours in consultation c1\n")
        XCTAssertEqual(submit.reply(for: .refused(message: "bad\nbytes")).line, "ERR INVALID body: refused by the database (bad bytes)\n")
        XCTAssertEqual(submit.reply(for: .busy).line, "ERR BUSY database unavailable or overloaded; nothing was stored, retry later\n")
        XCTAssertEqual(submit.reply(for: .shuttingDown).line, "ERR BUSY server shutting down; nothing was stored, retry later\n")
        XCTAssertEqual(submit.reply(for: .failed).line, "ERR INTERNAL the server could not store this; nothing was stored, retry later\n")
        XCTAssertEqual(submit.reply(for: .refusedByRules(DomainError(.closed, "not open"))).line, "ERR CLOSED not open\n")
        XCTAssertEqual(
            submit.reply(for: .refusedByRules(DomainError(.invalid, field: "stage", "unknown"))).line, "ERR INVALID stage: unknown\n")
    }
}
