import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient
import TestSupport
import XCTest

final class FollowerTests: XCTestCase {
    /// What the follower under test has seen.
    struct Seen {
        var positions: [Int64] = []
        var ids = Set<UUID>()
        var error: Error?
        var stop = false
    }

    /// 8 writers append concurrently, half of them an event per transaction, half in batches, while a follower reads.
    /// With a plain sequence this loses events: a reader sees position 7 committed before 6 and moves
    /// past 6. The follower must see every position exactly once, in increasing order.
    func testFollowerSeesEveryEventOnceInOrderUnderConcurrentWriters() throws {
        let conninfo = try TestDatabase.fresh()
        let writers = 8
        let perWriter = 1_000
        let total = writers * perWriter

        let seen = Locked(Seen())
        let followerDone = DispatchSemaphore(value: 0)
        Thread {
            defer { followerDone.signal() }
            do {
                // Small batches, so that the follower reads while writers are mid-flight.
                try LogFollower(conninfo: conninfo, batchSize: 50).run(shouldStop: { seen.current.stop }) { events in
                    seen.withLock { seen in
                        seen.positions.append(contentsOf: events.map(\.position))
                        seen.ids.formUnion(events.map(\.eventID))
                        if seen.positions.count >= total { seen.stop = true }
                    }
                }
            } catch {
                seen.withLock { $0.error = error }
            }
        }.start()

        let appendedIDs = Locked(Set<UUID>())
        let writerErrors = Locked([Error]())
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            do {
                let store = EventStore(connection: try Connection(conninfo))
                if writer % 2 == 0 {
                    for n in 0..<perWriter {
                        let event = NewEvent(
                            stream: "writer-\(writer)", type: "Tick", data: JSONText(#"{"n": \#(n)}"#),
                            expectedVersion: .exactly(Int64(n)))
                        try store.append(event)
                        appendedIDs.withLock { _ = $0.insert(event.eventID) }
                    }
                } else {
                    // The other writers append batches of 10, numbered by consult.append_batch itself.
                    for batch in 0..<(perWriter / 10) {
                        let events = (0..<10).map { n in
                            NewEvent(stream: "writer-\(writer)-\(batch)-\(n)", type: "Tick", data: JSONText("{}"), expectedVersion: .noStream)
                        }
                        for outcome in try store.append(batch: events) { _ = try outcome.get() }
                        appendedIDs.withLock { $0.formUnion(events.map(\.eventID)) }
                    }
                }
            } catch {
                writerErrors.withLock { $0.append(error) }
            }
        }
        XCTAssertTrue(writerErrors.current.isEmpty, "\(writerErrors.current)")

        // The follower stops by itself once it has seen every event; the deadline only bounds a failure.
        if followerDone.wait(timeout: .now() + 120) == .timedOut {
            seen.withLock { $0.stop = true }
            followerDone.wait()
        }
        let result = seen.current
        XCTAssertNil(result.error)
        XCTAssertEqual(result.positions.count, total)
        XCTAssertEqual(result.positions, (1...Int64(total)).map { $0 }, "positions must arrive once each, in order, with no gap")
        XCTAssertEqual(result.ids, appendedIDs.current)
    }

    func testFollowerIsWokenByNotifyAndRidesOutALostConnection() throws {
        let conninfo = try TestDatabase.fresh()
        let writer = try Connection(conninfo)
        let store = EventStore(connection: writer)
        try store.append(NewEvent(stream: "s-1", type: "A", data: JSONText("{}")))

        let seen = Locked(Seen())
        let errors = Locked(0)
        let arrived = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        Thread {
            // A long re-check interval: only NOTIFY can wake it in time for the waits below.
            do {
                try LogFollower(conninfo: conninfo, recheckInterval: 3_600).run(
                    shouldStop: { seen.current.stop },
                    onError: { _ in errors.withLock { $0 += 1 } }
                ) { events in
                    seen.withLock { $0.positions.append(contentsOf: events.map(\.position)) }
                    for _ in events { arrived.signal() }
                }
            } catch {
                seen.withLock { $0.error = error }
            }
            done.signal()
        }.start()

        XCTAssertEqual(arrived.wait(timeout: .now() + 10), .success)
        try store.append(NewEvent(stream: "s-1", type: "A", data: JSONText("{}")))
        XCTAssertEqual(arrived.wait(timeout: .now() + 10), .success)

        // Kill the follower's session; an event appended meanwhile must still arrive.
        try writer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        try store.append(NewEvent(stream: "s-1", type: "A", data: JSONText("{}")))
        XCTAssertEqual(arrived.wait(timeout: .now() + 20), .success)

        seen.withLock { $0.stop = true }
        done.wait()
        XCTAssertNil(seen.current.error)
        XCTAssertEqual(seen.current.positions, [1, 2, 3])
    }
}
