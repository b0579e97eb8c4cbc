import Foundation
import TestSupport
import XCTest

/// Deadlines per request: whatever the database does, a request is answered within the database
/// timeout of its arrival, even when it is queued behind a batch (or a read) that is itself stuck.
extension AvailabilityTests {
    /// One connection's pipelined requests: when each was sent, and its reply and when that came.
    final class Pipeline: @unchecked Sendable {
        struct Sent {
            let line: String
            let at: Date
        }
        let client: LineClient
        let sent = Locked([Sent]())
        let replies = Locked([(line: String, at: Date)]())
        let done = DispatchSemaphore(value: 0)
        var readError: Error?

        init(_ client: LineClient) {
            self.client = client
            Thread { [self] in
                do {
                    while let line = try client.readLine() {
                        replies.withLock { $0.append((line, Date())) }
                    }
                } catch {
                    readError = error
                }
                done.signal()
            }.start()
        }

        /// Sends `lines` at once, recording the time just before they leave.
        func send(_ lines: [String]) throws {
            let now = Date()
            sent.withLock { $0 += lines.map { Sent(line: $0, at: now) } }
            try client.send(bytes: Array(lines.map { $0 + "\n" }.joined().utf8))
        }

        /// Ends the requests and waits for every reply (the server closes after the last).
        func finish(timeout: Double) -> Bool {
            client.finishSending()
            return done.wait(timeout: .now() + timeout) == .success
        }

        /// Each request with its reply and how long the reply took.
        var answered: [(request: String, reply: String, seconds: Double)] {
            let sent = sent.current
            return zip(sent, replies.current).map { ($0.line, $1.line, $1.at.timeIntervalSince($0.at)) }
        }
    }

    /// PostgreSQL frozen (SIGSTOP on the postmaster and every backend) for three database timeouts
    /// while five connections pipeline SUBMITs (and one STATUS, CONSULTATIONS and RECEIPT) in waves:
    /// every request is answered OK or BUSY within the timeout (plus a margin) of being sent, never
    /// INTERNAL, never a hang, though most wait behind a batch that is itself timing out. After the
    /// thaw, a retry of every key with the same body is stored exactly once, and a key that was
    /// answered OK keeps its position. (Before deadlines per request: slowest reply 2 × the timeout.)
    func testFrozenDatabaseAnswersEveryPipelinedRequestWithinTheTimeout() throws {
        let timeout = 2.0
        let margin = 0.5
        let fixture = try Fixture(daemonArguments: ["--database-timeout", String(timeout)])
        let organisations = ["org-a", "org-b", "org-a", "org-b"]
        let writers = try organisations.map { try fixture.client(as: $0) }
        let reader = try fixture.client(as: "org-a")
        // Every session the daemon keeps is open before the freeze.
        for (index, client) in writers.enumerated() {
            XCTAssertTrue(try client.request("SUBMIT c1 warm-\(index) \(Fixture.body)").hasPrefix("OK SUBMIT"))
        }
        XCTAssertTrue(try reader.request("STATUS c1 warm-0").hasPrefix("OK STATUS"))

        let processes = try clusterProcesses()
        for pid in processes { kill(pid, SIGSTOP) }
        var thawed = false
        defer { if !thawed { for pid in processes { kill(pid, SIGCONT) } } }
        let frozenAt = Date()
        let pipelines = writers.map(Pipeline.init)
        let reads = Pipeline(reader)
        // Waves every timeout/4 for three timeouts: most requests arrive while a batch (or a read) is
        // stuck in the frozen database. The pacing shapes the load; it synchronises nothing.
        let waves = 12
        for wave in 0..<waves {
            for (index, pipeline) in pipelines.enumerated() {
                try pipeline.send((0..<15).map { "SUBMIT c1 w\(index)-\(wave)-\($0) \(Fixture.body)" })
            }
            try reads.send(["STATUS c1 warm-0", "CONSULTATIONS", "RECEIPT c1 warm-0"])
            Thread.sleep(forTimeInterval: timeout / 4)
        }
        for pipeline in pipelines + [reads] {
            XCTAssertTrue(pipeline.finish(timeout: 4 * timeout + 10), "every reply came (no hang)")
            XCTAssertNil(pipeline.readError)
        }
        let frozenFor = Date().timeIntervalSince(frozenAt)
        for pid in processes { kill(pid, SIGCONT) }
        thawed = true

        var slowest = 0.0
        var late: [String] = []
        var busy = 0
        var ok = 0
        var positions: [String: String] = [:]  // key → position, for writes answered OK
        for pipeline in pipelines + [reads] {
            let answered = pipeline.answered
            XCTAssertEqual(answered.count, pipeline.sent.current.count, "one reply per request")
            for (request, reply, seconds) in answered {
                slowest = max(slowest, seconds)
                if seconds >= timeout + margin { late.append("\(request.prefix(24)) → \(reply.prefix(40)) after \(String(format: "%.2f", seconds)) s") }
                if reply.hasPrefix("ERR BUSY") {
                    busy += 1
                } else if reply.hasPrefix("OK") {
                    ok += 1
                    let words = reply.split(separator: " ")
                    if words[1] == "SUBMIT" { positions[String(words[2])] = String(words[3]) }
                } else if request.hasPrefix("RECEIPT") && reply.hasPrefix("ERR NOT_FOUND") {
                    ok += 1  // this fixture signs no checkpoints: RECEIPT says so without the database
                } else {
                    XCTFail("\(request.prefix(30)) → \(reply)")
                }
            }
        }
        let requests = (pipelines + [reads]).map { $0.sent.current.count }.reduce(0, +)
        print("frozen \(String(format: "%.1f", frozenFor)) s with --database-timeout \(timeout): \(requests) requests, \(busy) BUSY, \(ok) OK, slowest reply \(String(format: "%.2f", slowest)) s, \(late.count) later than \(timeout + margin) s")
        XCTAssertEqual(late.count, 0, "answered later than \(timeout + margin) s after sending, e.g. \(late.prefix(3))")
        XCTAssertGreaterThan(busy, requests / 2, "the database was frozen: most requests are BUSY")

        // After the thaw: every key retried with the same body is stored exactly once, at the
        // position an OK named, if one did.
        // A batch cut off in flight may have committed: its clients were told BUSY (outcome unknown).
        print("stored while the clients were told BUSY or before the retries: \(try fixture.storedSubmissions().count - organisations.count)")
        let retryDeadline = Date().addingTimeInterval(60)
        for (index, organisation) in organisations.enumerated() {
            let client = try fixture.client(as: organisation)
            var pending = (0..<waves).flatMap { wave in (0..<15).map { "w\(index)-\(wave)-\($0)" } }
            while !pending.isEmpty {
                let replies = try pending.map { key -> (String, String) in
                    try client.send("SUBMIT c1 \(key) \(Fixture.body)")
                    return (key, "")
                }.map { key, _ in (key, try XCTUnwrap(try client.readLine())) }
                pending = []
                for (key, reply) in replies {
                    if reply.hasPrefix("ERR BUSY") {
                        pending.append(key)
                        continue
                    }
                    let words = reply.split(separator: " ")
                    XCTAssertTrue(reply.hasPrefix("OK SUBMIT \(key) "), reply)
                    if let position = positions[key] { XCTAssertEqual(String(words.last ?? ""), position, "\(key) keeps its position") }
                }
                if !pending.isEmpty {
                    XCTAssertLessThan(Date(), retryDeadline, "\(pending.count) still BUSY a minute after the thaw")
                    if Date() > retryDeadline { break }
                    Thread.sleep(forTimeInterval: 0.2)  // a client's retry interval
                }
            }
        }
        let stored = try fixture.storedSubmissions()  // asserts that no key is stored twice
        XCTAssertEqual(stored.count, organisations.count * (1 + waves * 15), "every key once (warm-ups included)")
    }
}
