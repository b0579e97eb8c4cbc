import EventLog
import EventRecords
import Foundation
import XCTest

/// Event ids are version 7 UUIDs: time first, so that the indexes on them grow at one edge.
final class TimeOrderedUUIDTests: XCTestCase {
    func testLayoutFollowsRFC9562() {
        let time = Date(timeIntervalSince1970: 1_795_474_161.506)
        let id = UUID.timeOrdered(at: time)
        let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        let milliseconds = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        XCTAssertEqual(milliseconds, 1_795_474_161_506)
        XCTAssertEqual(bytes[6] >> 4, 7, "version")
        XCTAssertEqual(bytes[8] >> 6, 0b10, "variant")
    }

    func testLaterIdsSortAfterEarlierOnesAndNoneRepeat() {
        var seen = Set<UUID>()
        var previous = ""
        for step in 0..<2_000 {
            // Two ids per millisecond (half way through it): within one they are random, across them time orders them.
            let time = Date(timeIntervalSince1970: 1_800_000_000 + (Double(step / 2) + 0.5) / 1000)
            let id = UUID.timeOrdered(at: time).uuidString.lowercased()
            if step % 2 == 0 { XCTAssertGreaterThan(id, previous) }
            previous = max(previous, id)
            XCTAssertTrue(seen.insert(UUID(uuidString: id)!).inserted)
        }
    }

    func testRandomBitsDiffer() {
        let time = Date()
        let ids = (0..<1_000).map { _ in UUID.timeOrdered(at: time) }
        XCTAssertEqual(Set(ids).count, 1_000)
    }
}
