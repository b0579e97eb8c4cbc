import Foundation
import JSON

/// A Swift value that can be sent as a statement parameter (in PostgreSQL's text format).
public protocol PostgresEncodable {
    var postgresText: String { get }
}

/// A Swift value that can be read from a result column (in PostgreSQL's text format).
public protocol PostgresDecodable {
    init?(postgresText: String)
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self }
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default: self.init(postgresText)
        }
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self ? "t" : "f" }
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { uuidString.lowercased() }
    public init?(postgresText: String) { self.init(uuidString: postgresText) }
}

extension Date: PostgresEncodable, PostgresDecodable {
    /// Sent as ISO 8601 with microseconds in UTC, which `timestamptz` accepts unambiguously.
    public var postgresText: String { TimestampText.format(self) }
    public init?(postgresText: String) {
        guard let date = TimestampText.parse(postgresText) else { return nil }
        self = date
    }
}

/// jsonb, passed as its text; the server parses and compares it by value.
extension JSONText: PostgresEncodable, PostgresDecodable {
    public init?(postgresText: String) { self.init(postgresText) }
    public var postgresText: String { text }
}

/// Timestamps in the text form the server uses with `DateStyle=ISO` (set on every connection).
enum TimestampText {
    static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - seconds * 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, fraction)
    }

    /// The `Date` that `parse` gives for the text of the same instant, from `timestamptz`'s binary form
    /// (microseconds since 2000-01-01 UTC): the same arithmetic, digit by digit, so that a time read
    /// either way compares equal (the projector reads some events one way and some the other).
    static func date(microsecondsSince2000 value: Int64) -> Date {
        let micros = value + 946_684_800_000_000
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        var rest = micros - seconds * 1_000_000
        var fraction = 0.0
        var scale = 0.1
        var digit: Int64 = 100_000
        while rest > 0 {
            fraction += Double(rest / digit) * scale
            rest %= digit
            scale /= 10
            digit /= 10
        }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]`, the server's ISO output.
    static func parse(_ text: String) -> Date? { parse(Array(text.utf8)) }

    static func parse<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Date? where Bytes.Element == UInt8, Bytes.Index == Int {
        var index = bytes.startIndex
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.endIndex else { return nil }
            var value = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
                index += 1
            }
            return value
        }
        func expect(_ char: UInt8) -> Bool {
            guard index < bytes.endIndex, bytes[index] == char else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            expect(32) || expect(84), let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }
        var fraction = 0.0
        if expect(46) {
            var scale = 0.1
            while index < bytes.endIndex, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < bytes.endIndex {
            let sign = bytes[index] == 45 ? -1 : 1
            guard bytes[index] == 43 || bytes[index] == 45 else { return nil }
            index += 1
            guard let offsetHours = number(2) else { return nil }
            var offsetMinutes = 0
            if expect(58) { offsetMinutes = number(2) ?? 0 }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.endIndex else { return nil }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let epoch = daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(epoch - offset) + fraction)
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar, by arithmetic (what
    /// `timegm` computes, without its cost per call): years are counted from March, so that the
    /// leap day falls at the end of a year, in 400-year eras of 146,097 days.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// A one-dimensional `text[]` (or, with a cast, `float8[]`) parameter; nil elements are NULL.
/// A parameter encoded ahead of its statement (the group committer encodes a batch while the database
/// appends the one before).
public struct Encoded: PostgresEncodable {
    public let postgresText: String
    public init(_ parameter: PostgresEncodable) { postgresText = parameter.postgresText }
}

public struct TextArray: PostgresEncodable {
    public let elements: [String?]
    public init(_ elements: [String?]) { self.elements = elements }

    /// The array literal: every element quoted, with `"` and `\` escaped, so any text travels intact.
    public var postgresText: String {
        // Built byte by byte: the elements can be whole JSON documents, full of quotes to escape. The
        // group committer builds a dozen of these per batch, on the thread every write waits on, so
        // runs without a quote or backslash are copied whole.
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 8 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard var element else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            element.withUTF8 { utf8 in
                var run = 0
                for (offset, byte) in utf8.enumerated() where byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<offset]))
                    bytes.append(UInt8(ascii: "\\"))
                    run = offset
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...]))
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
