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

    /// A member name twice is refused in a small object (found by a scan) and in a large one (by a
    /// set), wherever the second one falls.
    func testDuplicateNamesAreRefusedAtAnySize() throws {
        for size in [2, 15, 16, 17, 40, 2_600] {
            let names = (0..<size).map { "\"m\($0)\": \($0)" }
            XCTAssertNoThrow(try parser.parse("{" + names.joined(separator: ", ") + "}"), "\(size) distinct")
            for repeated in [0, size / 2, size - 1] {
                let text = "{" + (names + ["\"m\(repeated)\": 0"]).joined(separator: ", ") + "}"
                XCTAssertThrowsError(try parser.parse(text), "\(size) members, m\(repeated) twice")
            }
        }
    }
}
