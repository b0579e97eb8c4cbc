import JSON
import Domain
import Foundation
import LineProtocol
import TestSupport
import Vault
import XCTest

/// Bad input of every kind leaves the daemon up, keeps answering a well-behaved client on another
/// connection within a second throughout, and stores nothing partial; in the clear and over TLS.
final class HostileInputTests: XCTestCase {
    /// Pings on its own connection until stopped, recording the slowest answer and any failure.
    final class Probe {
        private let state = Locked((slowest: 0.0, failures: [String](), pings: 0, stop: false))
        private let done = DispatchSemaphore(value: 0)

        init(_ client: LineClient) {
            Thread { [state, done] in
                while !state.current.stop {
                    let start = Date()
                    do {
                        let reply = try client.request("PING")
                        let elapsed = Date().timeIntervalSince(start)
                        state.withLock {
                            $0.slowest = max($0.slowest, elapsed)
                            $0.pings += 1
                            if reply != "OK PONG" { $0.failures.append(reply) }
                        }
                    } catch {
                        state.withLock { $0.failures.append("\(error)") }
                    }
                    // A measurement cadence, not a synchronisation: the probe runs for the whole test.
                    Thread.sleep(forTimeInterval: 0.02)
                }
                done.signal()
            }.start()
        }

        func finish() -> (slowest: Double, failures: [String], pings: Int) {
            state.withLock { $0.stop = true }
            done.wait()
            let result = state.current
            return (result.slowest, result.failures, result.pings)
        }
    }

    /// Sends `bytes` while another thread reads every reply, then half-closes and waits for the
    /// server to answer everything and close.
    func blast(_ fixture: Fixture, _ bytes: [UInt8], as organisation: String? = "org-a") throws -> [String] {
        let client = try fixture.client(as: organisation)
        let replies = Locked([String]())
        let finished = DispatchSemaphore(value: 0)
        Thread {
            while let line = try? client.readLine() { replies.withLock { $0.append(line) } }
            finished.signal()
        }.start()
        try client.send(bytes: bytes)
        client.finishSending()
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "the server answered and closed")
        return replies.current
    }

    func testHostileInputHarmsNobody() throws { try hostileInputHarmsNobody(.plain) }
    func testHostileInputHarmsNobodyOverTLS() throws { try hostileInputHarmsNobody(.tls) }

    func hostileInputHarmsNobody(_ transport: Fixture.Transport) throws {
        let fixture = try Fixture(transport: transport)
        raiseOpenFileLimit()  // this test process opens a thousand sockets

        let probe = Probe(try fixture.client())
        var acknowledged = 0

        // Random bytes, newlines among them.
        var generator = SeededGenerator(seed: 42)
        let noise = (0..<1_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let noiseReplies = try blast(fixture, noise)
        XCTAssertTrue(noiseReplies.allSatisfy { $0.hasPrefix("ERR ") || $0 == "OK PONG" }, "\(noiseReplies.prefix(5))")

        // Invalid UTF-8, NUL bytes, an over-long line, deep nesting, huge numbers, an unknown verb.
        var lines: [[UInt8]] = [
            [0x53, 0x55, 0x42, 0xC3, 0x28, 0x0A],
            Array("SUBMIT c1 nul \u{0}\n".utf8),
            Array(#"SUBMIT c1 nul2 {"stage": "design", "language": "ar", "text": "a\u0000b"}"#.utf8) + [0x0A],
            Array("SUBMIT c1 nul3 {\"stage\": \"design\", \"language\": \"ar\", \"text\": \"a\u{0}b\"}\n".utf8),
            Array(repeating: UInt8(ascii: "A"), count: 1 << 20) + [0x0A],
            Array(("SUBMIT c1 deep " + String(repeating: "[", count: 100_000) + "\n").utf8),
            Array(("SUBMIT c1 deep2 {\"text\": " + String(repeating: "[", count: 30_000) + "\n").utf8),
            Array(#"SUBMIT c1 digits {"stage": "design", "language": "ar", "text": "x", "people_consulted": \#(String(repeating: "9", count: 10_000))}"#.utf8) + [0x0A],
            Array("DROP TABLE consult.events;\n".utf8),
        ]
        lines.append(Array("PING\n".utf8))
        let badReplies = try blast(fixture, lines.flatMap { $0 })
        XCTAssertEqual(badReplies.count, lines.count, "\(badReplies)")
        XCTAssertEqual(badReplies.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }, [
            "ERR ENCODING", "ERR INVALID", "ERR INVALID", "ERR INVALID", "ERR TOO_LONG", "ERR TOO_LONG", "ERR INVALID",
            "ERR INVALID", "ERR PROTOCOL", "OK PONG",
        ])

        // SQL meta-characters and quotes in every field that takes text; stored exactly as sent.
        let nasty = #"Robert'); DROP TABLE consult.events; -- \"quoted\" \\ back $1 %s"#
        let body = JSONValue.object([
            ("stage", .string("design")), ("language", .string("ar")), ("text", .string(nasty)),
            ("represents", .object([("gender", .array([.string("' OR 1=1 --")]))])),
            ("topics", .array([.string("\"; DELETE FROM consult.events; --")])),
        ])
        let client = try fixture.client()
        let reply = try client.request("SUBMIT c1 quote:key.1-_ \(body.serialized)")
        XCTAssertTrue(reply.hasPrefix("OK SUBMIT quote:key.1-_ "), reply)
        acknowledged += 1
        // Stored sealed (docs/PRIVACY.md); opened, the text is exactly what was sent.
        let vault = Vault(master: try MasterKey.load(TestDatabase.masterKeyFile))
        let events = try fixture.store.read(stream: Streams.submission(organisation: "org-a", consultation: "c1", key: "quote:key.1-_"))
        XCTAssertFalse(events.first?.data.contains("DROP TABLE") ?? true, "the text is sealed in the log")
        guard case .submissionReceived(let stored)? = try vault.open(events, fixture.store.connection).first?.decoded() else {
            return XCTFail("no submission stored")
        }
        XCTAssertEqual(stored.text, .plain(nasty))

        // A client that sends one byte at a time, slowly, holds only its own connection.
        let slow = try fixture.client()
        let slowLine = Array("SUBMIT c1 slow \(Fixture.body)\n".utf8)
        for byte in slowLine.prefix(40) {
            try slow.send(bytes: [byte])
            Thread.sleep(forTimeInterval: 0.05)  // the slowness is the test input
        }
        try slow.send(bytes: Array(slowLine.dropFirst(40)))
        XCTAssertTrue(try slow.readLine()!.hasPrefix("OK SUBMIT slow"))
        acknowledged += 1

        // A thousand connections at once.
        let crowd = try (0..<1_000).map { _ in try fixture.connect(readGreeting: false) }
        for member in crowd {
            XCTAssertEqual(try member.readLine(), "OK consultd 1 ready")
        }
        XCTAssertEqual(try crowd[999].request("PING"), "OK PONG")
        withExtendedLifetime(crowd) {}

        let result = probe.finish()
        XCTAssertEqual(result.failures, [])
        XCTAssertGreaterThan(result.pings, 10)
        XCTAssertLessThan(result.slowest, 1.0, "a well-behaved client was kept waiting")
        XCTAssertEqual(kill(fixture.daemon.pid, 0), 0, "the daemon is still running")
        XCTAssertEqual(try fixture.count(type: EventType.submissionReceived), acknowledged, "nothing stored but what was acknowledged")
    }
}

/// Raises this process's soft limit on open files to its hard limit.
func raiseOpenFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
