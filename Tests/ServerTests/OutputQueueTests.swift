@testable import Server
import XCTest

/// The connection's queue of bytes to write, without a connection.
final class OutputQueueTests: XCTestCase {
    func next(_ queue: OutputQueue) -> [UInt8] { queue.withNextChunk { Array($0) } }

    func testShortRepliesAreGatheredAndPartialWritesResumeWhereTheyStopped() {
        var queue = OutputQueue()
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(next(queue), [])
        queue.append(Array("OK PONG\n".utf8))
        queue.append([])
        queue.append(Array("OK SUBMIT k 1\n".utf8))
        XCTAssertEqual(queue.count, 22)
        XCTAssertEqual(next(queue), Array("OK PONG\nOK SUBMIT k 1\n".utf8), "one write carries both")
        queue.removeFirst(5)
        XCTAssertEqual(queue.count, 17)
        XCTAssertEqual(next(queue), Array("NG\nOK SUBMIT k 1\n".utf8))
        queue.append(Array("x\n".utf8))
        XCTAssertEqual(next(queue), Array("NG\nOK SUBMIT k 1\nx\n".utf8), "what comes later joins the chunk being written")
        queue.removeFirst(19)
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(next(queue), [])
    }

    func testChunksStayWithinTheirSizeAndAreWrittenInOrder() {
        var queue = OutputQueue()
        let big = [UInt8](repeating: 1, count: OutputQueue.chunkBytes + 10)
        queue.append([0, 0, 0])
        queue.append(big)
        queue.append([2, 2])
        XCTAssertEqual(queue.count, big.count + 5)
        XCTAssertEqual(next(queue), [0, 0, 0], "a reply that does not fit starts a chunk of its own")
        queue.removeFirst(4)  // across the end of the first chunk
        XCTAssertEqual(next(queue), Array(big.dropFirst()))
        queue.removeFirst(big.count - 1)
        XCTAssertEqual(next(queue), [2, 2])
        queue.removeAll()
        XCTAssertEqual(queue.count, 0)
        XCTAssertEqual(next(queue), [])
    }

    func testWhatIsWrittenIsWhatWasAppended() {
        var queue = OutputQueue()
        var expected: [UInt8] = []
        var written: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2_000 {
            let reply = [UInt8](repeating: UInt8(round % 251), count: Int.random(in: 1...3_000, using: &generator))
            queue.append(reply)
            expected += reply
            if round % 3 == 0 {
                let chunk = next(queue)
                let taken = Int.random(in: 0...chunk.count, using: &generator)
                written += chunk.prefix(taken)
                queue.removeFirst(taken)
            }
            XCTAssertEqual(queue.count, expected.count - written.count)
        }
        while !queue.isEmpty {
            let chunk = next(queue)
            XCTAssertLessThanOrEqual(chunk.count, OutputQueue.chunkBytes)
            written += chunk
            queue.removeFirst(chunk.count)
        }
        XCTAssertEqual(written, expected)
    }
}
