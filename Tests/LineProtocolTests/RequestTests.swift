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
        XCTAssertEqual(try parse("AUTH org-1").get(), .auth(organisation: "org-1", token: nil), "a client certificate stands in for the token")
        XCTAssertEqual(code("AUTH org-1 tok/en"), .protocol)
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
        XCTAssertEqual(code("AUTH"), .protocol)
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

    /// Verbs fold in ASCII only: Unicode case mapping would turn `ı` into `I` and `ſ` into `S`.
    func testVerbsFoldInASCIIOnly() {
        XCTAssertEqual(try parse("pInG").get(), .ping)
        XCTAssertEqual(code("p\u{131}ng"), .protocol)  // dotless i
        XCTAssertEqual(code("\u{17F}TATUS c1 k1"), .protocol)  // long s
        XCTAssertEqual(code("PING\u{301}"), .protocol)
        XCTAssertEqual(code("\u{FF30}ING"), .protocol)  // fullwidth P
    }

    /// Before AUTH, only AUTH, PING and QUIT are parsed; anything else is NOAUTH from its verb
    /// alone, even when its JSON is malformed or huge.
    func testBeforeAuthOnlyTheVerbIsRead() {
        func before(_ line: String) -> Result<Request, RequestError> { Request.parse(Array(line.utf8), authenticated: false) }
        XCTAssertEqual(try before("ping").get(), .ping)
        XCTAssertEqual(try before("AUTH o t").get(), .auth(organisation: "o", token: "t"))
        for line in ["SUBMIT c1 k1 {not json", "status c1 k1", "CONSULTATIONS", "WITHDRAW c k " + String(repeating: "[", count: 10_000)] {
            guard case .failure(let error) = before(line) else { return XCTFail(line) }
            XCTAssertEqual(error.code, .noAuth, line)
        }
        guard case .failure(let unknown) = before("HELLO") else { return XCTFail() }
        XCTAssertEqual(unknown.code, .protocol)
        // After AUTH the same malformed body is parsed and refused as INVALID.
        guard case .failure(let parsed) = Request.parse(Array("SUBMIT c1 k1 {not json".utf8), authenticated: true) else { return XCTFail() }
        XCTAssertEqual(parsed.code, .invalid)
    }

    func testReplyLinesAreOneLine() {
        XCTAssertEqual(Reply.ok("PONG").line, "OK PONG\n")
        XCTAssertEqual(Reply.error(.invalid, "text: bad\nthing").line, "ERR INVALID text: bad thing\n")
        XCTAssertEqual(Reply(line: "ERR NOT_FOUND no such"), .error(.notFound, "no such"))
        XCTAssertEqual(Reply(line: "OK SUBMIT k 5"), .ok("SUBMIT k 5"))
        XCTAssertNil(Reply(line: "ERR WHAT x"))
    }
}
