import JSON
import LineProtocol
import XCTest

final class JSONTests: XCTestCase {
    let parser = JSONParser()

    func testParsesAndSerialisesValues() throws {
        let value = try parser.parse(#" {"a": [true, false, null, -1.5e3, "q\"\\\/\u00e9\ud83c\udf0d\n"], "b": {}} "#)
        XCTAssertEqual(value["a"], .array([.bool(true), .bool(false), .null, .number("-1.5e3"), .string("q\"\\/é🌍\n")]))
        XCTAssertEqual(value.serialized, #"{"a":[true,false,null,-1.5e3,"q\"\\/é🌍\n"],"b":{}}"#)
        XCTAssertEqual(try parser.parse(value.serialized), value, "serialised text parses back to the same value")
    }

    func testRefusesMalformedAndHostileInput() {
        let bad = [
            "", "{", "}", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "+1", "1e", "\"abc", "\"a\u{01}\"",
            "\"\\x\"", "\"\\ud800\"", "\"\\u0000\"", "tru", "nul", "{\"a\":1,\"a\":2}", "[1] [2]", "NaN",
        ]
        for text in bad {
            XCTAssertThrowsError(try parser.parse(text), text)
        }
        XCTAssertThrowsError(try parser.parse(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)))
        XCTAssertThrowsError(try parser.parse(String(repeating: "9", count: 10_000)))
        XCTAssertThrowsError(try parser.parse([0x22, 0xFF, 0x22]), "invalid UTF-8 inside a string")
    }
}
