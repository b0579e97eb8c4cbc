import ConnectionCore
import Domain
import Foundation
import LineProtocol
import XCTest

/// Every limit of a connection, tested on the pure state machine: no socket, no database.
final class ConnectionStateMachineTests: XCTestCase {
    static let body = #"{"stage": "design", "language": "ar", "text": "x"}"#

    /// A harness that has authenticated as org-a.
    func authenticated(_ limits: ConnectionLimits = ConnectionLimits()) -> Harness {
        var harness = Harness(limits)
        harness.send("AUTH org-a token\n")
        harness.authenticate(valid: true)
        XCTAssertEqual(harness.replies(), ["OK consultd 1 ready", "OK AUTH org-a"])
        return harness
    }

    /// A SUBMIT line of about `size` bytes whose body is valid JSON with many members.
    static func bigSubmit(_ index: Int, size: Int) -> String {
        var members: [String] = []
        var length = 0
        var n = 0
        while length < size - 64 {
            let member = "\"m\(n)\": \(n)"
            members.append(member)
            length += member.utf8.count + 2
            n += 1
        }
        return "SUBMIT c1 k\(index) {\(members.joined(separator: ", "))}\n"
    }

    func testGreetingPingAndOrderedReplies() {
        var harness = authenticated()
        harness.send("PING\nSTATUS c1 k1\nPING\nSUBMIT c1 k2 \(Self.body)\nPING\n")
        // The STATUS is in the read pool; the PING after it waits for it, in order, and the SUBMIT
        // waits for it too (a read must not see the connection's later writes).
        XCTAssertEqual(harness.replies(), ["OK PONG"])
        XCTAssertEqual(harness.reads.map(\.read), [.status(organisation: "org-a", consultation: "c1", key: "k1")])
        XCTAssertEqual(harness.writes.count, 0)
        harness.answerRead(.ok("STATUS {}"))
        XCTAssertEqual(harness.replies(), ["OK STATUS {}", "OK PONG"])
        XCTAssertEqual(harness.writes.count, 1)
        harness.answerWrites()
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 4", "OK PONG"])
    }

    /// Replies that complete out of order (a read before an earlier write) go out in request order.
    func testOutOfOrderAnswersAreSentInOrder() {
        var harness = authenticated()
        harness.send("SUBMIT c1 k1 \(Self.body)\nSUBMIT c1 k2 \(Self.body)\nPING\n")
        XCTAssertEqual(harness.writes.count, 2)
        harness.perform(harness.machine.writesAnswered([(harness.writes[1].sequence, .ok("SUBMIT k2 2"))], now: 0))
        XCTAssertEqual(harness.replies(), [], "k2 waits for k1")
        harness.perform(harness.machine.writesAnswered([(harness.writes[0].sequence, .ok("SUBMIT k1 1"))], now: 0))
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k1 1", "OK SUBMIT k2 2", "OK PONG"])
    }

    /// Before AUTH only AUTH, PING and QUIT are served; nothing else reaches the read pool or the
    /// committer, and the body of a refused request is never parsed (a malformed one is NOAUTH too).
    func testBeforeAuthNothingButAuthPingQuit() {
        var harness = Harness()
        harness.send("SUBMIT c1 k1 \(Self.body)\nSUBMIT c1 k2 {broken\nSTATUS c1 k1\nCONSULTATIONS\nPING\n")
        XCTAssertEqual(harness.replies().map { String($0.prefix(10)) }, [
            "OK consult", "ERR NOAUTH", "ERR NOAUTH", "ERR NOAUTH", "ERR NOAUTH", "OK PONG",
        ])
        XCTAssertTrue(harness.reads.isEmpty)
        XCTAssertTrue(harness.writes.isEmpty)
    }

    /// Requests pipelined after AUTH wait for its outcome and are served as the organisation.
    func testPipelinedAfterAuthWaitForIt() {
        var harness = Harness()
        harness.send("AUTH org-a t\nSUBMIT c1 k1 \(Self.body)\n")
        XCTAssertTrue(harness.writes.isEmpty, "nothing is taken while AUTH is pending")
        harness.authenticate(valid: true)
        XCTAssertEqual(harness.authenticatedAs, ["org-a"])
        XCTAssertEqual(harness.writes.count, 1)
        guard case .submit(let organisation, _, _, _) = harness.writes[0].write else { return XCTFail() }
        XCTAssertEqual(organisation, "org-a")
    }

    /// `AUTH <organisation-id>` without a token asks the shell to check the connection's client
    /// certificate instead; the machine treats it as any AUTH.
    func testAuthWithoutTokenAsksForTheCertificateCheck() {
        var harness = Harness()
        harness.send("AUTH org-a\nPING\n")
        XCTAssertEqual(harness.auths.count, 1)
        XCTAssertEqual(harness.auths.first?.organisation, "org-a")
        XCTAssertNil(harness.auths.first?.token)
        harness.authenticate(valid: true)
        XCTAssertEqual(harness.replies(), ["OK consultd 1 ready", "OK AUTH org-a", "OK PONG"])
    }

    func testFiveFailedAuthsClose() {
        var harness = Harness()
        for attempt in 1...5 {
            harness.send("AUTH org-a wrong\n")
            harness.authenticate(valid: false)
            XCTAssertEqual(harness.closed, attempt == 5)
        }
        XCTAssertEqual(harness.replies().last, "ERR AUTH invalid credential; too many failures, closing")
    }

    /// A connection that does not authenticate in time is closed, however busy it keeps the line:
    /// one byte every half second (which used to reset the idle timer) does not keep it open.
    func testAuthDeadlineWhateverTheClientSends() {
        var limits = ConnectionLimits()
        limits.authTimeout = 10
        var harness = Harness(limits)
        var time = 0.0
        while !harness.closed && time < 30 {
            time += 0.5
            harness.advance(to: time)
            if !harness.closed { harness.send(time.truncatingRemainder(dividingBy: 2) == 0 ? "PING\n" : "P") }
        }
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(time, 10, "closed at the deadline")
        XCTAssertEqual(harness.replies().last, "ERR TIMEOUT not authenticated within 10 s; closing")
        XCTAssertEqual(harness.machine.nextDeadline, nil)
    }

    /// The deadline is offered to the shell, so it can arm one timer instead of polling.
    func testNextDeadlineIsTheEarliest() {
        var limits = ConnectionLimits()
        limits.authTimeout = 10
        limits.lineTimeout = 3
        limits.idleTimeout = 300
        var harness = Harness(limits)
        XCTAssertEqual(harness.machine.nextDeadline, 10)
        harness.now = 1
        harness.send("PI")
        XCTAssertEqual(harness.machine.nextDeadline, 4, "the line's deadline")
        harness.send("NG\n")
        XCTAssertEqual(harness.machine.nextDeadline, 10)
    }

    /// A line must be completed within its deadline: a slow trickle of bytes is cut off.
    func testLineDeadline() {
        var limits = ConnectionLimits()
        limits.lineTimeout = 5
        var harness = authenticated(limits)
        var time = 0.0
        for byte in Array("SUBMIT c1 slow \(Self.body)".utf8) {
            time += 0.25
            harness.advance(to: time)
            if harness.closed { break }
            harness.send([byte])
        }
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(time, 5.25)
        XCTAssertEqual(harness.replies(), ["ERR TIMEOUT line not completed within 5 s; closing"])
        XCTAssertTrue(harness.writes.isEmpty)
    }

    /// The line's clock stops while the server itself pauses reading (its own requests in flight), so
    /// a client that pipelines is never cut off mid-line for the server's slowness; it runs again
    /// from the moment reading resumes.
    func testLineDeadlineDoesNotRunWhileTheServerPauses() {
        var limits = ConnectionLimits()
        limits.lineTimeout = 5
        limits.maxInFlightBytes = 1_000
        var harness = authenticated(limits)
        // Two whole submissions (over the in-flight budget) and half of a third.
        let line = "SUBMIT c1 k \(Self.body)\n"
        harness.send(line + line + String(line.prefix(20)))
        XCTAssertFalse(harness.reading, "paused: the writes in flight hold the budget")
        harness.advance(to: 60)
        XCTAssertFalse(harness.closed, "not counted against the client while the server does not read")
        harness.answerWrites()
        XCTAssertTrue(harness.reading)
        harness.advance(to: 64)
        XCTAssertFalse(harness.closed)
        harness.advance(to: 65)
        XCTAssertTrue(harness.closed, "counted again from the resume")
    }

    /// A completed line resets the line deadline; lines arriving slowly but whole are fine.
    func testWholeLinesDoNotHitTheLineDeadline() {
        var limits = ConnectionLimits()
        limits.lineTimeout = 5
        var harness = authenticated(limits)
        for second in 1...20 {
            harness.advance(to: Double(second) * 4)
            harness.send("PI")
            harness.advance(to: Double(second) * 4 + 3)
            harness.send("NG\n")
        }
        XCTAssertFalse(harness.closed)
        XCTAssertEqual(harness.replies().count, 20)
    }

    func testIdleTimeoutOnlyWhenNothingIsOwed() {
        var limits = ConnectionLimits()
        limits.idleTimeout = 60
        var harness = authenticated(limits)
        harness.send("SUBMIT c1 k1 \(Self.body)\n")
        harness.advance(to: 100)
        XCTAssertFalse(harness.closed, "a write in flight is owed an answer")
        harness.answerWrites()
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 1"])
        harness.advance(to: 159)
        XCTAssertFalse(harness.closed, "the idle clock counts from the last answer")
        harness.advance(to: 160)
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(harness.replies(), ["ERR TIMEOUT idle for 60 s; closing"])
    }

    /// A client that never reads its replies holds at most about `maxOutputBytes` of them: the
    /// server stops taking its requests and reading its socket, and closes it once nothing has been
    /// read for the idle timeout.
    func testNeverReadingClientHoldsAtMostTheReplyCap() {
        var limits = ConnectionLimits()
        limits.maxOutputBytes = 1 << 20
        limits.idleTimeout = 60
        var harness = authenticated(limits)
        harness.setClientReads(false)
        // Requests with long replies relative to their size: each 2-byte line earns a 40-byte error.
        harness.send(Array(repeating: Array("x\n".utf8), count: 1_000_000).flatMap { $0 })
        XCTAssertFalse(harness.reading)
        XCTAssertGreaterThanOrEqual(harness.machine.outputBytes, 1 << 20)
        XCTAssertLessThan(harness.machine.outputBytes, (1 << 20) + 4_096, "overshoot is at most one read's replies")
        XCTAssertLessThan(harness.peakHeld, (1 << 20) + limits.maxReadAheadBytes + 4_096)
        XCTAssertGreaterThan(harness.inbound.count, 1_000_000, "the rest waits in the client's socket")
        harness.advance(to: 59)
        XCTAssertFalse(harness.closed)
        harness.advance(to: 60)
        XCTAssertTrue(harness.closed, "no progress on the output for the idle timeout")
    }

    /// The same client, once it reads again, gets every reply in order.
    func testSlowReaderResumes() {
        var harness = authenticated()
        harness.setClientReads(false)
        let count = 200_000
        harness.send(Array(repeating: Array("PING\n".utf8), count: count).flatMap { $0 })
        XCTAssertFalse(harness.reading)
        var replies: [String] = []
        while replies.count < count {
            harness.setClientReads(true)
            harness.setClientReads(false)
            replies += harness.replies()
        }
        XCTAssertEqual(replies.count, count)
        XCTAssertTrue(replies.allSatisfy { $0 == "OK PONG" })
    }

    /// The hostile client of the issue: 4,000 pipelined 61 KiB SUBMITs with ~2,600 members each. The
    /// bytes held for its requests in flight stay under the cap, however many it sends.
    func testPipelinedBigSubmitsAreBoundedInBytes() {
        let limits = ConnectionLimits()
        var harness = authenticated(limits)
        let line = Self.bigSubmit(0, size: 61 * 1_024)
        XCTAssertGreaterThan(line.utf8.count, 60 * 1_024)
        for index in 0..<120 { harness.send(line.replacingOccurrences(of: "k0 ", with: "k\(index) ")) }
        let cost = harness.writes[0].cost
        XCTAssertEqual(harness.writes.count, limits.maxInFlightBytes / cost + 1, "writes taken until the byte cap")
        XCTAssertFalse(harness.reading)
        XCTAssertLessThan(harness.machine.inFlightBytes, limits.maxInFlightBytes + cost)
        XCTAssertLessThan(harness.peakHeld, limits.maxInFlightBytes + cost + limits.maxReadAheadBytes + 4_096)
        // Answering the writes lets the rest through, in order.
        var answered = 0
        while !harness.writes.isEmpty {
            answered += harness.writes.count
            harness.answerWrites { _ in .error(.invalid, "m0: unknown field") }
        }
        XCTAssertEqual(answered, 120)
        XCTAssertEqual(harness.replies().count, 120)
    }

    func testRequestCountCap() {
        var limits = ConnectionLimits()
        limits.maxInFlight = 10
        var harness = authenticated(limits)
        for index in 0..<50 { harness.send("SUBMIT c1 k\(index) \(Self.body)\n") }
        XCTAssertEqual(harness.writes.count, 10)
        harness.answerWrites(5)
        XCTAssertEqual(harness.writes.count, 10)
        XCTAssertEqual(harness.replies().count, 5)
    }

    /// A read waits for the connection's earlier writes, and at most `maxReadsInFlight` go to the pool.
    func testReadsWaitForWritesAndAreCapped() {
        var limits = ConnectionLimits()
        limits.maxReadsInFlight = 2
        var harness = authenticated(limits)
        harness.send("SUBMIT c1 k1 \(Self.body)\nSTATUS c1 k1\n")
        XCTAssertTrue(harness.reads.isEmpty)
        harness.answerWrites()
        XCTAssertEqual(harness.reads.count, 1)
        harness.send("STATUS c1 a\nSTATUS c1 b\nSTATUS c1 c\n")
        XCTAssertEqual(harness.reads.count, 2)
        harness.answerRead(.ok("STATUS {}"))
        XCTAssertEqual(harness.reads.count, 2)
    }

    /// Deadlines count from each request's arrival, not from when it reached the database: a write
    /// queued behind a stuck one, and a read held back behind it, are answered BUSY at their own
    /// deadlines, in order; late answers are dropped; later requests are served again.
    func testRequestDeadlinesCountFromArrival() {
        var limits = ConnectionLimits()
        limits.requestTimeout = 5
        var harness = authenticated(limits)
        harness.send("SUBMIT c1 k1 \(Self.body)\n")
        harness.now = 3
        harness.send("SUBMIT c1 k2 \(Self.body)\nSTATUS c1 k1\nPING\n")
        XCTAssertEqual(harness.writes.count, 2)
        XCTAssertTrue(harness.reads.isEmpty, "the STATUS waits for the writes")
        XCTAssertEqual(harness.machine.nextDeadline, 5)
        harness.advance(to: 5)
        XCTAssertEqual(harness.replies(), ["ERR BUSY no answer from the database within 5 s; the outcome is unknown: retry with the same key"])
        XCTAssertEqual(harness.machine.nextDeadline, 8, "the next request's own deadline, not a fresh one")
        // k1's batch commits after all: its answer is dropped (the client was told BUSY), k2's is not.
        harness.answerWrites(1) { _ in .ok("SUBMIT k1 9") }
        XCTAssertEqual(harness.replies(), [])
        harness.advance(to: 8)
        // k2 expires; the STATUS, held back since 3, is past its deadline too: BUSY without a read.
        XCTAssertEqual(harness.replies(), [
            "ERR BUSY no answer from the database within 5 s; the outcome is unknown: retry with the same key",
            "ERR BUSY no answer from the database within 5 s; retry later", "OK PONG",
        ])
        XCTAssertTrue(harness.reads.isEmpty)
        harness.answerWrites()
        XCTAssertEqual(harness.replies(), [], "late answers are dropped")
        harness.send("STATUS c1 k1\n")
        XCTAssertEqual(harness.reads.count, 1)
        harness.answerRead(.ok("STATUS {}"))
        XCTAssertEqual(harness.replies(), ["OK STATUS {}"])
        XCTAssertNil(harness.machine.nextDeadline.flatMap { $0 < 100 ? $0 : nil })
    }

    /// Without a request timeout nothing expires.
    func testNoRequestTimeoutNoDeadline() {
        var harness = authenticated()
        harness.send("SUBMIT c1 k1 \(Self.body)\n")
        harness.advance(to: 200)
        XCTAssertEqual(harness.replies(), [])
        harness.answerWrites()
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 1"])
    }

    /// QUIT closes only after everything taken before it is answered.
    func testQuitWaitsForWhatWasTaken() {
        var harness = authenticated()
        harness.send("SUBMIT c1 k1 \(Self.body)\nQUIT\nPING\n")
        XCTAssertFalse(harness.closed)
        harness.answerWrites()
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 1", "OK BYE"])
    }

    /// Shutting down: requests taken are answered, requests not yet taken are not, then close.
    func testDrainAnswersWhatWasTaken() {
        var limits = ConnectionLimits()
        limits.maxInFlight = 2
        var harness = authenticated(limits)
        harness.send("SUBMIT c1 k1 \(Self.body)\nSUBMIT c1 k2 \(Self.body)\nSUBMIT c1 k3 \(Self.body)\n")
        harness.perform(harness.machine.drain(now: 1))
        XCTAssertFalse(harness.closed)
        harness.answerWrites { _ in .ok("SUBMIT k 9") }
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 9", "OK SUBMIT k 9"])
    }

    func testEvictionOnlyBeforeAuth() {
        var waiting = Harness()
        waiting.perform(waiting.machine.evict(now: 1))
        XCTAssertTrue(waiting.closed)
        XCTAssertEqual(waiting.replies().last, "ERR BUSY too many connections waiting to authenticate; closing, retry")
        var member = authenticated()
        member.perform(member.machine.evict(now: 1))
        XCTAssertFalse(member.closed)
    }

    func testEndOfInputAnswersThenCloses() {
        var harness = authenticated()
        harness.send("SUBMIT c1 k1 \(Self.body)\nPING\n")
        harness.endInput()
        XCTAssertFalse(harness.closed)
        harness.answerWrites()
        XCTAssertTrue(harness.closed)
        XCTAssertEqual(harness.replies(), ["OK SUBMIT k 1", "OK PONG"])
    }

    /// Random traffic, random answers, random reading: every request gets exactly one reply, in
    /// order, and the bytes held never exceed the sum of the caps (plus one request's overshoot).
    func testRandomTrafficKeepsEveryBound() {
        // A new seed each run, named in every failure; CONSULT_TEST_SEED replays one.
        let seed = ProcessInfo.processInfo.environment["CONSULT_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        randomTraffic(seed: seed)
    }

    /// Forty rounds of random limits and random traffic from one seed.
    func randomTraffic(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for round in 0..<40 {
            var limits = ConnectionLimits()
            limits.maxInFlight = Int.random(in: 1...50, using: &generator)
            limits.maxInFlightBytes = Int.random(in: 1_000...50_000, using: &generator)
            limits.maxOutputBytes = Int.random(in: 100...5_000, using: &generator)
            limits.maxLineLength = Int.random(in: 200...2_000, using: &generator)
            limits.maxReadAheadBytes = Int.random(in: 1...4_000, using: &generator)
            limits.maxReadsInFlight = Int.random(in: 1...4, using: &generator)
            var harness = authenticated(limits)
            var sent = 0
            var received: [String] = []
            let menu = ["PING\n", "STATUS c1 k\n", "SUBMIT c1 k \(Self.body)\n", "x\n", "CONSULTATIONS\n",
                        String(repeating: "z", count: 3_000) + "\n", "\n"]
            for _ in 0..<400 {
                switch Int.random(in: 0..<6, using: &generator) {
                case 0, 1:
                    let line = menu.randomElement(using: &generator)!
                    if line != "\n" { sent += 1 }
                    harness.send(line)
                case 2:
                    if !harness.writes.isEmpty { harness.answerWrites(Int.random(in: 1...harness.writes.count, using: &generator)) }
                case 3:
                    if !harness.reads.isEmpty { harness.answerRead(.ok("STATUS {}")) }
                case 4:
                    harness.setClientReads(Bool.random(using: &generator))
                default:
                    received += harness.replies()
                }
                let bound = limits.maxInFlightBytes + limits.maxOutputBytes + max(limits.maxReadAheadBytes, limits.maxLineLength + 2)
                    + 2 * 3_100 + 512 + 200
                XCTAssertLessThanOrEqual(harness.machine.heldBytes, bound, "seed \(seed), round \(round)")
            }
            // The client reads again first: a machine whose output was full holds parsed requests
            // back, and hands them out only once its output drains.
            repeat {
                harness.setClientReads(true)
                if !harness.writes.isEmpty { harness.answerWrites() }
                if !harness.reads.isEmpty { harness.answerRead(.ok("STATUS {}")) }
            } while !harness.writes.isEmpty || !harness.reads.isEmpty || !harness.inbound.isEmpty
            received += harness.replies()
            XCTAssertEqual(harness.machine.heldBytes, 0, "seed \(seed), round \(round): nothing held once all is answered")
            XCTAssertEqual(received.count, sent, "seed \(seed), round \(round): one reply per request")
        }
    }
}
