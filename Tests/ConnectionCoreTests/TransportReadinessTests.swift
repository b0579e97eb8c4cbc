import ConnectionCore
import XCTest

/// Which readiness a connection's sources arm, for every combination of what its transport waits for.
final class TransportReadinessTests: XCTestCase {
    typealias Wait = TransportReadiness.Wait

    func testDuringTheHandshakeOnlyWhatItAsksForIsArmed() {
        var readiness = TransportReadiness()
        for (reading, pending) in [(false, false), (true, true)] {
            XCTAssertTrue(readiness.interest(reading: reading, pending: pending, inputEnded: false) == (false, false), "nothing asked yet")
            readiness.handshake(waits: .readable)
            XCTAssertTrue(readiness.interest(reading: reading, pending: pending, inputEnded: false) == (true, false))
            readiness.handshake(waits: .writable)
            XCTAssertTrue(readiness.interest(reading: reading, pending: pending, inputEnded: false) == (false, true))
            readiness = TransportReadiness()
        }
        readiness.handshake(waits: .writable)
        readiness.handshakeDone()
        XCTAssertTrue(readiness.established)
        XCTAssertNil(readiness.handshakeWaits)
    }

    /// Every established combination, against the rules stated one by one.
    func testEveryCombinationArmsWhatUnblocksIt() {
        let waits: [Wait?] = [nil, .readable, .writable]
        var checked = 0
        for readWaits in waits {
            for writeWaits in waits {
                for reading in [false, true] {
                    for pending in [false, true] {
                        for inputEnded in [false, true] {
                            var readiness = TransportReadiness()
                            readiness.handshakeDone()
                            readiness.readWaits = readWaits
                            readiness.writeWaits = writeWaits
                            let (read, write) = readiness.interest(reading: reading, pending: pending, inputEnded: inputEnded)
                            let context = "readWaits \(String(describing: readWaits)) writeWaits \(String(describing: writeWaits)) reading \(reading) pending \(pending) ended \(inputEnded)"
                            // A read that waits for nothing, or for readable, is woken by readable.
                            if reading && readWaits != .writable { XCTAssertTrue(read, context) }
                            // A read that waits for writable is woken by writable, and only by it.
                            if reading && readWaits == .writable { XCTAssertTrue(write, context) }
                            // Output is written on writable unless the write waits for readable.
                            if pending && writeWaits != .readable { XCTAssertTrue(write, context) }
                            // A write that waits for readable is woken by readable, while the peer still sends.
                            if pending && writeWaits == .readable { XCTAssertEqual(read, !inputEnded || (reading && readWaits != .writable), context) }
                            // Nothing to read or write: nothing armed (an idle socket costs no wake-ups).
                            if !reading && !pending { XCTAssertTrue(!read && !write, context) }
                            // Armed only for a reason.
                            if read { XCTAssertTrue((reading && readWaits != .writable) || (pending && writeWaits == .readable), context) }
                            if write { XCTAssertTrue((pending && writeWaits != .readable) || (reading && readWaits == .writable), context) }
                            checked += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(checked, 72)
    }

    func testReadinessWakesWhatWaitedForIt() {
        var readiness = TransportReadiness()
        readiness.handshakeDone()
        XCTAssertTrue(readiness.whenReadable == (false, true), "plain: readable reads")
        XCTAssertTrue(readiness.whenWritable == (false, true), "plain: writable writes")
        readiness.writeWaits = .readable
        readiness.readWaits = .writable
        XCTAssertTrue(readiness.whenReadable == (true, false), "a write that waited for readable goes; the read waits on")
        XCTAssertTrue(readiness.whenWritable == (true, false), "a read that waited for writable goes; the write waits on")
    }
}
