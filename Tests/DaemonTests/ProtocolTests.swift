import Domain
import Foundation
import LineProtocol
import TestSupport
import XCTest

/// Every verb and every error code, through a real socket to a real daemon and database; the tests
/// named `…OverTLS` run the same over TLS.
final class ProtocolTests: XCTestCase {
    func testEveryVerbAndErrorCode() throws { try everyVerbAndErrorCode(.plain) }
    func testEveryVerbAndErrorCodeOverTLS() throws { try everyVerbAndErrorCode(.tls) }

    func everyVerbAndErrorCode(_ transport: Fixture.Transport) throws {
        let fixture = try Fixture(daemonArguments: ["--max-line", "4096"], transport: transport)
        let anonymous = try fixture.connect()
        XCTAssertEqual(try anonymous.request("PING"), "OK PONG")
        XCTAssertEqual(try anonymous.request("ping"), "OK PONG", "verbs are case-insensitive")
        XCTAssertTrue(try anonymous.request("FROB").hasPrefix("ERR PROTOCOL unknown verb"))
        XCTAssertTrue(try anonymous.request("PING extra").hasPrefix("ERR PROTOCOL"))
        XCTAssertTrue(try anonymous.request("CONSULTATIONS").hasPrefix("ERR NOAUTH"))
        XCTAssertTrue(try anonymous.request("SUBMIT c1 k1 {}").hasPrefix("ERR NOAUTH"))
        try anonymous.send(bytes: [0x50, 0xFF, 0xFE, 0x0A])
        XCTAssertTrue(try anonymous.readLine()!.hasPrefix("ERR ENCODING"))
        try anonymous.send(String(repeating: "x", count: 5000))
        XCTAssertTrue(try anonymous.readLine()!.hasPrefix("ERR TOO_LONG"))
        XCTAssertEqual(try anonymous.request("PING"), "OK PONG", "the connection goes on after an over-long line")
        XCTAssertEqual(try anonymous.request("AUTH org-a wrongtoken"), "ERR AUTH invalid credential")
        XCTAssertEqual(try anonymous.request("AUTH nobody wrongtoken"), "ERR AUTH invalid credential", "same answer for an unknown organisation")
        XCTAssertEqual(try anonymous.request("QUIT"), "OK BYE")
        XCTAssertNil(try anonymous.readLine(), "the server closes after QUIT")

        let client = try fixture.client(as: "org-a")
        let consultations = try client.request("CONSULTATIONS")
        XCTAssertTrue(consultations.hasPrefix("OK CONSULTATIONS ["), consultations)
        XCTAssertTrue(consultations.contains(#""id":"c1""#) && !consultations.contains("c-old"), consultations)
        XCTAssertTrue(consultations.contains(#""dimensions":["age","gender"]"#), consultations)

        let submitted = try client.request("SUBMIT c1 k1 \(Fixture.body)")
        XCTAssertTrue(submitted.hasPrefix("OK SUBMIT k1 "), submitted)
        let position = submitted.split(separator: " ").last.map(String.init)!
        XCTAssertEqual(try client.request("SUBMIT c1 k1 \(Fixture.body)"), submitted, "an identical retry answers the same")
        XCTAssertTrue(try client.request(#"SUBMIT c1 k1 {"stage": "design", "language": "ar", "text": "other"}"#).hasPrefix("ERR CONFLICT"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 k2 {"stage": "nope", "language": "ar", "text": "x"}"#).hasPrefix("ERR INVALID stage:"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 k2 {"stage": "design", "language": "ar"}"#).hasPrefix("ERR INVALID text:"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 k2 {"stage": "design", "language": "ar", "text": "x", "represents": {"caste": ["a"]}}"#).hasPrefix("ERR INVALID represents.caste:"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 k2 {"stage": "design", "language": "ar", "text": "x", "people_consulted": -1}"#).hasPrefix("ERR INVALID people_consulted:"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 k2 {"stage": "design", "language": "ar", "text": "x", "extra": 1}"#).hasPrefix("ERR INVALID extra:"))
        XCTAssertTrue(try client.request("SUBMIT c1 k2 {not json").hasPrefix("ERR INVALID body:"))
        XCTAssertTrue(try client.request("SUBMIT c1 k/2 {}").hasPrefix("ERR PROTOCOL"))
        XCTAssertTrue(try client.request("SUBMIT c-old k2 \(Fixture.body)").hasPrefix("ERR CLOSED"))
        XCTAssertTrue(try client.request("SUBMIT nowhere k2 \(Fixture.body)").hasPrefix("ERR NOT_FOUND"))

        let status = try client.request("STATUS c1 k1")
        XCTAssertEqual(status, #"OK STATUS {"state":"received","position":\#(position),"content":"kept","feedback":[],"cited_in_outcome":null}"#)
        XCTAssertTrue(try client.request("STATUS c1 nope").hasPrefix("ERR NOT_FOUND"))
        let withdrawn = try client.request(#"WITHDRAW c1 k1 {"reason": "duplicate of k3"}"#)
        XCTAssertTrue(withdrawn.hasPrefix("OK WITHDRAW k1 "), withdrawn)
        XCTAssertEqual(try client.request(#"WITHDRAW c1 k1 {"reason": "duplicate of k3"}"#), withdrawn, "withdrawing twice answers the same")
        XCTAssertTrue(try client.request("WITHDRAW c1 k1").hasPrefix("ERR CONFLICT"))
        XCTAssertTrue(try client.request("WITHDRAW c1 never").hasPrefix("ERR NOT_FOUND"))
        XCTAssertTrue(try client.request("STATUS c1 k1").contains(#""state":"withdrawn""#))
        XCTAssertEqual(try fixture.count(type: EventType.submissionReceived), 1)
        XCTAssertEqual(try fixture.count(type: EventType.submissionWithdrawn), 1)
    }

    func testBusyAndTimeoutAndAuthLockout() throws { try busyAndTimeoutAndAuthLockout(.plain) }
    func testBusyAndTimeoutAndAuthLockoutOverTLS() throws { try busyAndTimeoutAndAuthLockout(.tls) }

    func busyAndTimeoutAndAuthLockout(_ transport: Fixture.Transport) throws {
        var fixture = try Fixture(daemonArguments: ["--max-connections", "3", "--max-unauthenticated", "3"], transport: transport)
        // BUSY: connections beyond the limit are refused with a reason.
        let held = try (0..<3).map { _ in try fixture.connect() }
        switch transport {
        case .plain:
            let refused = try LineClient(port: fixture.daemon.port, readGreeting: false)
            XCTAssertTrue(try refused.readLine()!.hasPrefix("ERR BUSY"))
            XCTAssertNil(try refused.readLine())
        case .tls, .tlsWith:
            // Over TLS the reason cannot be said without a handshake, which a server over its limit
            // does not spend: the connection is closed before it.
            XCTAssertThrowsError(try fixture.connect(readGreeting: false)) { error in
                XCTAssertTrue("\(error)".contains("closed the connection during the TLS handshake"), "\(error)")
            }
        }
        XCTAssertEqual(try held[2].request("PING"), "OK PONG", "the connections within the limit still work")

        // A daemon of its own for the rest, so that closed connections need not be counted out first.
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        try fixture.restartDaemon(arguments: ["--idle-timeout", "0.5"])

        // TIMEOUT: an idle connection is told and closed.
        let idle = try fixture.connect()
        XCTAssertTrue(try idle.readLine()!.hasPrefix("ERR TIMEOUT"))
        XCTAssertNil(try idle.readLine())

        // AUTH: the fifth failure closes the connection.
        let guesser = try fixture.connect()
        for attempt in 1...5 {
            let reply = try guesser.request("AUTH org-a guess\(attempt)")
            XCTAssertTrue(reply.hasPrefix("ERR AUTH"), reply)
        }
        XCTAssertNil(try guesser.readLine())
    }

    /// A refusal the daemon cannot foresee (here a constraint added behind its back) is INTERNAL for
    /// that submission only; the others in the same pipelined batch are stored.
    func testOneRefusedSubmissionDoesNotFailItsBatch() throws {
        let fixture = try Fixture()
        try fixture.store.connection.execute(
            "ALTER TABLE consult.events ADD CONSTRAINT no_boom CHECK (NOT coalesce(data->'submission'->'topics' ? 'boom', false)) NOT VALID")
        let client = try fixture.client()
        let boom = #"{"stage": "design", "language": "ar", "text": "a text", "topics": ["boom"]}"#
        try client.send(bytes: Array("""
            SUBMIT c1 before \(Fixture.body)
            SUBMIT c1 bad \(boom)
            SUBMIT c1 after \(Fixture.body)

            """.utf8))
        let replies = try (0..<3).map { _ in try XCTUnwrap(client.readLine()) }
        XCTAssertTrue(replies[0].hasPrefix("OK SUBMIT before"), replies[0])
        XCTAssertTrue(replies[1].hasPrefix("ERR INTERNAL"), replies[1])
        XCTAssertTrue(replies[2].hasPrefix("OK SUBMIT after"), replies[2])
        XCTAssertEqual(Set(try fixture.storedSubmissions().keys), ["org-a/before", "org-a/after"])
    }

    func testPipelinedReadsSeeEarlierWritesOfTheSameConnection() throws { try pipelinedReadsSeeEarlierWrites(.plain) }
    func testPipelinedReadsSeeEarlierWritesOfTheSameConnectionOverTLS() throws { try pipelinedReadsSeeEarlierWrites(.tls) }

    func pipelinedReadsSeeEarlierWrites(_ transport: Fixture.Transport) throws {
        let fixture = try Fixture(transport: transport)
        let client = try fixture.client()
        try client.send(bytes: Array("""
            SUBMIT c1 p1 \(Fixture.body)
            STATUS c1 p1
            WITHDRAW c1 p1
            STATUS c1 p1
            PING

            """.utf8))
        let replies = try (0..<5).map { _ in try XCTUnwrap(client.readLine()) }
        XCTAssertTrue(replies[0].hasPrefix("OK SUBMIT p1"), replies[0])
        XCTAssertTrue(replies[1].contains(#""state":"received""#), replies[1])
        XCTAssertTrue(replies[2].hasPrefix("OK WITHDRAW p1"), replies[2])
        XCTAssertTrue(replies[3].contains(#""state":"withdrawn""#), replies[3])
        XCTAssertEqual(replies[4], "OK PONG")
    }

    func testOrganisationsSeeOnlyTheirOwnSubmissions() throws {
        let fixture = try Fixture()
        let a = try fixture.client(as: "org-a")
        let b = try fixture.client(as: "org-b")
        XCTAssertTrue(try a.request("SUBMIT c1 shared \(Fixture.body)").hasPrefix("OK SUBMIT"))
        XCTAssertTrue(try b.request("STATUS c1 shared").hasPrefix("ERR NOT_FOUND"))
        XCTAssertTrue(try b.request("WITHDRAW c1 shared").hasPrefix("ERR NOT_FOUND"))
        // The same key is B's own, separate submission.
        XCTAssertTrue(try b.request("SUBMIT c1 shared \(Fixture.body)").hasPrefix("OK SUBMIT"))
        XCTAssertTrue(try a.request("STATUS c1 shared").contains(#""state":"received""#))
        XCTAssertEqual(try fixture.count(type: EventType.submissionWithdrawn), 0)
        XCTAssertEqual(try fixture.count(type: EventType.submissionReceived), 2)
    }

    /// A pipeline of resent submissions, some identical and some not, mixed with new ones and with a
    /// key sent twice in the same pipeline: each retry is answered with its first position, each
    /// changed one CONFLICT, whichever batch they fall in (they are compared a batch at a time).
    func testResentPipelineIsAnsweredPerSubmission() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        func body(_ index: Int, _ text: String = "text") -> String {
            #"{"stage": "design", "language": "ar", "text": "\#(text) \#(index)", "represents": {"gender": ["female"]}}"#
        }
        let count = 300
        var first: [String] = []
        for index in 0..<count {
            let reply = try client.request("SUBMIT c1 old-\(index) \(body(index))")
            XCTAssertTrue(reply.hasPrefix("OK SUBMIT old-\(index) "), reply)
            first.append(reply)
        }
        var request = ""
        var expected: [(String) -> Bool] = []
        for index in 0..<count {
            switch index % 3 {
            case 0:
                request += "SUBMIT c1 old-\(index) \(body(index))\n"
                expected.append { [first] in $0 == first[index] }
            case 1:
                request += "SUBMIT c1 old-\(index) \(body(index, "changed"))\n"
                expected.append { $0.hasPrefix("ERR CONFLICT") }
            default:
                request += "SUBMIT c1 new-\(index) \(body(index))\nSUBMIT c1 new-\(index) \(body(index))\n"
                expected.append { $0.hasPrefix("OK SUBMIT new-\(index) ") }
                expected.append { $0.hasPrefix("OK SUBMIT new-\(index) ") }
            }
        }
        try client.send(bytes: Array(request.utf8))  // all of it before reading anything
        var replies: [String] = []
        for check in expected {
            let reply = try XCTUnwrap(client.readLine())
            XCTAssertTrue(check(reply), reply)
            replies.append(reply)
        }
        for index in stride(from: 2, to: count, by: 3) {
            let pair = replies.filter { $0.hasPrefix("OK SUBMIT new-\(index) ") }
            XCTAssertEqual(pair.count, 2)
            XCTAssertEqual(pair.first, pair.last, "a key sent twice in one pipeline is stored once")
        }
        XCTAssertEqual(try fixture.count(type: EventType.submissionReceived), count + count / 3)
    }

    func testTenThousandPipelinedSubmissionsAnsweredInOrder() throws { try tenThousandPipelinedSubmissions(.plain) }
    func testTenThousandPipelinedSubmissionsAnsweredInOrderOverTLS() throws { try tenThousandPipelinedSubmissions(.tls) }

    func tenThousandPipelinedSubmissions(_ transport: Fixture.Transport) throws {
        let fixture = try Fixture(transport: transport)
        let client = try fixture.client()
        let count = 10_000
        var request: [UInt8] = []
        for index in 0..<count {
            request.append(contentsOf: "SUBMIT c1 key-\(index) \(Fixture.body)\n".utf8)
        }
        try client.send(bytes: request)  // all of it before reading anything
        var positions: [Int64] = []
        for index in 0..<count {
            let reply = try XCTUnwrap(client.readLine())
            let parts = reply.split(separator: " ")
            XCTAssertEqual(parts.prefix(3).joined(separator: " "), "OK SUBMIT key-\(index)", reply)
            positions.append(Int64(parts.last!) ?? -1)
        }
        XCTAssertEqual(positions, positions.sorted(), "in request order, committed in that order")
        XCTAssertEqual(try fixture.count(type: EventType.submissionReceived), count)
        XCTAssertEqual(try client.request("PING"), "OK PONG")
    }
}
