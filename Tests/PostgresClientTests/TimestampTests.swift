import Foundation
import XCTest

@testable import PostgresClient

/// The timestamp text decoder (pure: no database).
final class TimestampTests: XCTestCase {
    /// The calendar arithmetic agrees with libc's `timegm` on every day from 1800 to 2200.
    func testDaysSinceEpochMatchesTimegm() {
        for year in 1800...2200 {
            for month in 1...12 {
                for day in [1, 15, 28, 29, 30, 31] {
                    var parts = tm()
                    parts.tm_year = Int32(year - 1900)
                    parts.tm_mon = Int32(month - 1)
                    parts.tm_mday = Int32(day)
                    let expected = timegm(&parts)
                    // timegm normalises 31 April to 1 May; so does counting days.
                    XCTAssertEqual(TimestampText.daysSinceEpoch(year: year, month: month, day: day) * 86_400, expected, "\(year)-\(month)-\(day)")
                }
            }
        }
    }

    func testFormatThenParseIsTheSameMicrosecond() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let micros = Int64.random(in: -2_000_000_000_000_000...4_000_000_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            let text = TimestampText.format(date)
            guard let parsed = TimestampText.parse(text) else { return XCTFail("cannot parse \(text)") }
            XCTAssertEqual(TimestampText.format(parsed), text)
        }
    }

    func testOffsetsAndRefusals() {
        XCTAssertEqual(TimestampText.parse("2026-11-23 03:00:00+01")?.timeIntervalSince1970, TimestampText.parse("2026-11-23 02:00:00+00")?.timeIntervalSince1970)
        XCTAssertEqual(TimestampText.parse("2026-11-23 03:00:00-02:30")?.timeIntervalSince1970, TimestampText.parse("2026-11-23 05:30:00")?.timeIntervalSince1970)
        for bad in ["", "2026-13-01 00:00:00", "2026-11-00 00:00:00", "2026-11-23", "2026-11-23 03:00:00Z", "2026-11-23 03:00:00+01 "] {
            XCTAssertNil(TimestampText.parse(bad), bad)
        }
    }
}
