import LineProtocol
import XCTest

final class RequestTests: XCTestCase {
    func parse(_ line: String) -> Result<Request, RequestError> { Request.parse(Array(line.utf8)) }

    func code(_ line: String) -> ErrorCode? {
        if case .failure(let error) = parse(line) { return error.code }
        return nil
    }

    func testVerbsAndArguments() throws {
        XCTAssertEqual(try parse("AUTH org-1 t0k.en:_-").get(), .auth(organisation: "org-1", token: "t0k.en:_-"))
        XCTAssertEqual(try parse("consultations").get(), .consultations)
        XCTAssertEqual(try parse("Ping").get(), .ping)
        XCTAssertEqual(try parse("QUIT").get(), .quit)
        XCTAssertEqual(try parse("STATUS c1 k1").get(), .status(consultation: "c1", key: "k1"))
        XCTAssertEqual(try parse(#"SUBMIT c1 k1 {"a": [1, "x"]}"#).get(),
                       .submit(consultation: "c1", key: "k1", body: .object([("a", .array([.number("1"), .string("x")]))])))
        XCTAssertEqual(try parse("WITHDRAW c1 k1").get(), .withdraw(consultation: "c1", key: "k1", reason: nil))
        XCTAssertEqual(try parse(#"WITHDRAW c1 k1 {"reason": "typo"}"#).get(), .withdraw(consultation: "c1", key: "k1", reason: "typo"))
    }

    func testErrors() {
        XCTAssertEqual(code("HELLO"), .protocol)
        XCTAssertEqual(code("AUTH onlyone"), .protocol)
        XCTAssertEqual(code("AUTH a b c"), .protocol)
        XCTAssertEqual(code("PING now"), .protocol)
        XCTAssertEqual(code("STATUS c1 k'1"), .protocol)
        XCTAssertEqual(code("STATUS c1 " + String(repeating: "k", count: 129)), .protocol)
        XCTAssertEqual(code("SUBMIT c1 k1"), .protocol)
        XCTAssertEqual(code("SUBMIT c1 k1 [1]"), .invalid)
        XCTAssertEqual(code("SUBMIT c1 k1 {\"a\": 1} trailing"), .invalid)
        XCTAssertEqual(code(#"WITHDRAW c1 k1 {"why": "x"}"#), .invalid)
        XCTAssertEqual(code(#"WITHDRAW c1 k1 {"reason": 5}"#), .invalid)
        if case .failure(let error) = Request.parse([0x41, 0xC3, 0x28]) { XCTAssertEqual(error.code, .encoding) } else { XCTFail() }
    }

    func testReplyLinesAreOneLine() {
        XCTAssertEqual(Reply.ok("PONG").line, "OK PONG\n")
        XCTAssertEqual(Reply.error(.invalid, "text: bad\nthing").line, "ERR INVALID text: bad thing\n")
        XCTAssertEqual(Reply(line: "ERR NOT_FOUND no such"), .error(.notFound, "no such"))
        XCTAssertEqual(Reply(line: "OK SUBMIT k 5"), .ok("SUBMIT k 5"))
        XCTAssertNil(Reply(line: "ERR WHAT x"))
    }
}
