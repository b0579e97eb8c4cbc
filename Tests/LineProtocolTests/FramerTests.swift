import LineProtocol
import XCTest

final class FramerTests: XCTestCase {
    func lines(_ frames: [LineFramer.Frame]) -> [String] {
        frames.map { frame in
            switch frame {
            case .line(let bytes): return String(decoding: bytes, as: UTF8.self)
            case .tooLong: return "<too long>"
            }
        }
    }

    func testSplitsLinesAcrossAndWithinReads() {
        var framer = LineFramer(maxLineLength: 100)
        XCTAssertEqual(lines(framer.feed(Array("PI".utf8))), [])
        XCTAssertEqual(lines(framer.feed(Array("NG\r\nQU".utf8))), ["PING"])
        XCTAssertEqual(lines(framer.feed(Array("IT\n\nA\nB\n".utf8))), ["QUIT", "", "A", "B"])
        XCTAssertEqual(framer.bufferedByteCount, 0)
    }

    func testEveryWayOfCuttingTheStreamGivesTheSameLines() {
        let stream = Array("AUTH a b\r\nSUBMIT c k {\"text\": \"é\"}\nPING\n".utf8)
        for cut in 0...stream.count {
            var framer = LineFramer(maxLineLength: 100)
            let frames = framer.feed(stream[..<cut]) + framer.feed(stream[cut...])
            XCTAssertEqual(lines(frames), ["AUTH a b", "SUBMIT c k {\"text\": \"é\"}", "PING"], "cut at \(cut)")
        }
    }

    func testOverLongLineIsReportedOnceAndDiscardedToItsNewline() {
        var framer = LineFramer(maxLineLength: 8)
        XCTAssertEqual(lines(framer.feed(Array("12345678\n".utf8))), ["12345678"], "exactly the limit is fine")
        XCTAssertEqual(lines(framer.feed(Array("12345678\r\n".utf8))), ["12345678"], "a final CR does not count")
        XCTAssertEqual(lines(framer.feed(Array("1234567890".utf8))), ["<too long>"], "reported as soon as it is known")
        XCTAssertEqual(lines(framer.feed(Array(repeating: UInt8(ascii: "x"), count: 1_000_000))), [])
        XCTAssertLessThanOrEqual(framer.bufferedByteCount, 9, "nothing of the discarded line is kept")
        XCTAssertEqual(lines(framer.feed(Array("tail\nPING\n".utf8))), ["PING"])
        XCTAssertEqual(lines(framer.feed(Array("123456789\n".utf8))), ["<too long>"])
    }
}
