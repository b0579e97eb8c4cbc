/// A JSON value, parsed with limits that make hostile input cheap to refuse.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text as sent (already checked to be a JSON number), so no precision is lost.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in the order sent; duplicate names are refused by the parser.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member `name` of an object (nil for other values or a missing member).
    public subscript(name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == name }?.1
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The items, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The strings, if this is an array of strings only.
    public var stringArray: [String]? {
        guard case .array(let items) = self else { return nil }
        let strings = items.compactMap(\.stringValue)
        return strings.count == items.count ? strings : nil
    }

    /// Compact JSON text. Strings are escaped so the text is plain ASCII-safe JSON for any input.
    public var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): JSONValue.writeString(text, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, (name, value)) in members.enumerated() {
                if index > 0 { out += "," }
                JSONValue.writeString(name, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ text: String, to out: inout String) {
        out += "\""
        // Most strings need no escape: copy them whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) {
            out += text
            out += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Why a JSON text was refused, with the byte offset where the parser stopped.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes with bounds on nesting depth and number length, so that
/// deeply nested or enormous input is refused in linear time without deep recursion.
public struct JSONParser: Sendable {
    public var maxDepth = 32
    public var maxNumberLength = 40

    public init() {}

    public func parse<Bytes: Collection>(_ bytes: Bytes) throws -> JSONValue where Bytes.Element == UInt8 {
        try parse(Array(bytes), validUTF8: false)
    }

    /// A Swift string is valid UTF-8 already: its text's runs need no second check.
    public func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8), validUTF8: true) }

    private func parse(_ bytes: [UInt8], validUTF8: Bool) throws -> JSONValue {
        var reader = Reader(bytes: bytes, validUTF8: validUTF8, maxDepth: maxDepth, maxNumberLength: maxNumberLength)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        /// True when the bytes came from a Swift string (valid UTF-8 by construction). A run between
        /// quotes and backslashes, which are ASCII, is then valid on its own too.
        let validUTF8: Bool
        let maxDepth: Int
        let maxNumberLength: Int
        var index = 0

        func error(_ message: String) -> JSONError { JSONError(message: message, offset: index) }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw error("invalid literal")
            }
            index += expected.count
            return value
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard let byte = peek else { throw error("unexpected end of JSON") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character")
            }
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("JSON nested deeper than \(maxDepth) levels") }
            index += 1
            var members: [(String, JSONValue)] = []
            // Duplicates are found by a scan while an object is small (most are), by a set once it is
            // not, so that a hostile object of thousands of members still costs linear time.
            var names: Set<String>?
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let name = try string()
                let duplicate: Bool
                if names != nil {
                    duplicate = !names!.insert(name).inserted
                } else {
                    duplicate = members.contains { $0.0 == name }
                    if !duplicate && members.count >= 16 { names = Set(members.map(\.0) + [name]) }
                }
                if duplicate { throw error("duplicate member \"\(name.prefix(64))\"") }
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipSpace()
                members.append((name, try value(depth: depth)))
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(members)
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("JSON nested deeper than \(maxDepth) levels") }
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth))
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(items)
                default: throw error("expected ',' or ']'")
                }
            }
        }

        mutating func number() throws -> JSONValue {
            let start = index
            func digits() -> Int {
                let from = index
                while let byte = peek, byte >= 0x30, byte <= 0x39 { index += 1 }
                return index - from
            }
            if peek == UInt8(ascii: "-") { index += 1 }
            if peek == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw error("invalid number")
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw error("invalid number") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw error("invalid number") }
            }
            guard index - start <= maxNumberLength else {
                index = start
                throw error("number longer than \(maxNumberLength) characters")
            }
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: throw error("invalid \\u escape")
                }
                value = value * 16 + UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func string() throws -> String {
            index += 1  // opening quote
            // Unescaped runs are validated and appended whole: most strings are one run, no copying per scalar.
            var text = ""
            var runStart = index
            func flushRun() throws {
                guard runStart < index else { return }
                if validUTF8 {
                    // Most strings are one run: take it as the text rather than appending it to "".
                    let run = String(decoding: bytes[runStart..<index], as: UTF8.self)
                    if text.isEmpty { text = run } else { text += run }
                    return
                }
                guard let run = String(validating: bytes[runStart..<index], as: UTF8.self) else {
                    throw error("invalid UTF-8 in string")
                }
                text += run
            }
            while true {
                guard let byte = peek else { throw error("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    try flushRun()
                    index += 1
                    return text
                case UInt8(ascii: "\\"):
                    try flushRun()
                    index += 1
                    guard let escape = peek else { throw error("unterminated string") }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): text += "\""
                    case UInt8(ascii: "\\"): text += "\\"
                    case UInt8(ascii: "/"): text += "/"
                    case UInt8(ascii: "b"): text += "\u{08}"
                    case UInt8(ascii: "f"): text += "\u{0C}"
                    case UInt8(ascii: "n"): text += "\n"
                    case UInt8(ascii: "r"): text += "\r"
                    case UInt8(ascii: "t"): text += "\t"
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800...0xDBFF).contains(code) {
                            guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else { throw error("unpaired surrogate") }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        // PostgreSQL's jsonb cannot hold U+0000; refuse it here with a clear error.
                        guard code != 0, let scalar = Unicode.Scalar(code) else {
                            throw error(code == 0 ? "\\u0000 is not allowed" : "unpaired surrogate")
                        }
                        text.unicodeScalars.append(scalar)
                    default: throw error("invalid escape")
                    }
                    runStart = index
                case 0x00..<0x20:
                    throw error("control character in string")
                default:
                    index += 1
                }
            }
        }
    }
}
