import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient
import TestSupport
import XCTest

final class EventStoreTests: XCTestCase {
    var conninfo = ""
    var store: EventStore!

    override func setUpWithError() throws {
        conninfo = try TestDatabase.fresh()
        store = EventStore(connection: try Connection(conninfo))
    }

    override func tearDown() {
        store = nil  // XCTest keeps test case objects alive: close the connection now
    }

    func testAppendAndReadBackEveryColumn() throws {
        let id = UUID()
        let before = Date()
        let appended = try store.append(
            NewEvent(
                eventID: id, stream: "consultation-c42", type: "ConsultationOpened",
                data: JSONText(#"{"title": "Education \"access\"", "stages": ["design"]}"#),
                metadata: JSONText(#"{"actor": "convener", "protocol": "consultctl"}"#),
                expectedVersion: .noStream, idempotencyKey: "open-c42"))
        XCTAssertEqual(appended, Appended(position: 1, version: 1, duplicate: false))
        try store.append(NewEvent(stream: "consultation-c42", type: "ConsultationClosed", data: JSONText("{}")))

        let events = try store.read(after: 0)
        XCTAssertEqual(events.map(\.position), [1, 2])
        let first = events[0]
        XCTAssertEqual(first.eventID, id)
        XCTAssertEqual(first.stream, "consultation-c42")
        XCTAssertEqual(first.version, 1)
        XCTAssertEqual(first.type, "ConsultationOpened")
        XCTAssertEqual(first.data, #"{"title": "Education \"access\"", "stages": ["design"]}"#)
        XCTAssertEqual(first.metadata, #"{"actor": "convener", "protocol": "consultctl"}"#)
        XCTAssertEqual(first.idempotencyKey, "open-c42")
        XCTAssertEqual(first.recordedAt.timeIntervalSince(before), 0, accuracy: 60)
        XCTAssertEqual(events[1].version, 2)
        XCTAssertNil(events[1].idempotencyKey)
        XCTAssertEqual(try store.read(after: 1).map(\.position), [2])
        XCTAssertEqual(try store.read(stream: "consultation-c42").map(\.version), [1, 2])
        XCTAssertEqual(try store.headPosition(), 2)
    }

    func testExpectedVersionConflictIsTypedAndStoresNothing() throws {
        try store.append(NewEvent(stream: "org-a", type: "OrganisationRegistered", data: JSONText("{}"), expectedVersion: .noStream))
        XCTAssertThrowsError(
            try store.append(NewEvent(stream: "org-a", type: "OrganisationRegistered", data: JSONText("{}"), expectedVersion: .noStream))
        ) { error in
            XCTAssertEqual(error as? AppendError, .versionConflict(stream: "org-a", expected: .noStream, actual: 1))
        }
        XCTAssertThrowsError(
            try store.append(NewEvent(stream: "org-a", type: "Renamed", data: JSONText("{}"), expectedVersion: .exactly(5)))
        ) { error in
            XCTAssertEqual(error as? AppendError, .versionConflict(stream: "org-a", expected: .exactly(5), actual: 1))
        }
        XCTAssertEqual(
            try store.append(NewEvent(stream: "org-a", type: "Renamed", data: JSONText("{}"), expectedVersion: .exactly(1))).version, 2)
        XCTAssertEqual(try store.headPosition(), 2)
    }

    func testIdempotentReappendStoresNothingAndReturnsOriginalPosition() throws {
        try store.append(NewEvent(stream: "other-x", type: "Noise", data: JSONText("{}")))
        let event = NewEvent(
            stream: "submission-o1.c1.k1", type: "SubmissionReceived",
            data: JSONText(#"{"text": "hello", "stage": "design"}"#), idempotencyKey: "o1/c1/k1")
        let first = try store.append(event)
        try store.append(NewEvent(stream: "other-x", type: "Noise", data: JSONText("{}")))

        // Same value with other key order and spacing, and a new event id: still the same submission.
        var retry = event
        retry.eventID = UUID()
        retry.data = JSONText(#"{ "stage":"design","text":"hello" }"#)
        let again = try store.append(retry)
        XCTAssertEqual(again, Appended(position: first.position, version: first.version, duplicate: true))
        XCTAssertEqual(try store.headPosition(), 3)

        var changed = event
        changed.data = JSONText(#"{"text": "goodbye", "stage": "design"}"#)
        XCTAssertThrowsError(try store.append(changed)) { error in
            XCTAssertEqual(error as? AppendError, .idempotencyConflict(key: "o1/c1/k1", position: first.position))
        }
        XCTAssertEqual(try store.headPosition(), 3)
    }

    func testBatchAppendIsOneTransactionWithPerEventRefusals() throws {
        let events = [
            NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 1}"#), idempotencyKey: "k1"),
            NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 2}"#), expectedVersion: .noStream),  // refused
            NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 1}"#), idempotencyKey: "k1"),  // duplicate
            NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 9}"#), idempotencyKey: "k1"),  // key conflict
            NewEvent(stream: "s-2", type: "B", data: JSONText(#"{"n": 3}"#)),
        ]
        let results = try store.append(batch: events)
        XCTAssertEqual(try results[0].get(), Appended(position: 1, version: 1, duplicate: false))
        XCTAssertEqual(results[1], .failure(.versionConflict(stream: "s-1", expected: .noStream, actual: 1)))
        XCTAssertEqual(try results[2].get(), Appended(position: 1, version: 1, duplicate: true))
        XCTAssertEqual(results[3], .failure(.idempotencyConflict(key: "k1", position: 1)))
        XCTAssertEqual(try results[4].get(), Appended(position: 2, version: 1, duplicate: false))

        // A statement the database rejects outright (data not an object) stores nothing of the batch.
        let bad = [
            NewEvent(stream: "s-3", type: "C", data: JSONText("{}")),
            NewEvent(stream: "s-3", type: "C", data: JSONText("[1, 2]")),
        ]
        XCTAssertThrowsError(try store.append(batch: bad)) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.checkViolation)
        }
        XCTAssertThrowsError(try store.append(batch: [bad[0], NewEvent(stream: "s-4", type: "C", data: JSONText("[1]"))])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.checkViolation)
        }
        XCTAssertEqual(try store.headPosition(), 2)
        // Positions stay contiguous after the rolled-back batch.
        XCTAssertEqual(try store.append(NewEvent(stream: "s-3", type: "C", data: JSONText("{}"))).position, 3)
    }

    /// A batch of independent events (one per stream, keys distinct) is decided in one statement:
    /// the same outcomes as one by one, positions in the order given.
    func testBatchOfIndependentEventsHasTheSameOutcomes() throws {
        try store.append(NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 1}"#), idempotencyKey: "k1"))
        try store.append(NewEvent(stream: "s-2", type: "A", data: JSONText(#"{"n": 2}"#), idempotencyKey: "k2"))
        let events = [
            NewEvent(stream: "s-3", type: "A", data: JSONText(#"{"n": 3}"#), expectedVersion: .noStream, idempotencyKey: "k3"),
            NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"n": 1}"#), idempotencyKey: "k1"),  // duplicate
            NewEvent(stream: "s-2", type: "A", data: JSONText(#"{"n": 9}"#), idempotencyKey: "k2"),  // key conflict
            NewEvent(stream: "s-4", type: "A", data: JSONText(#"{"n": 4}"#), expectedVersion: .exactly(1)),  // no such version
            NewEvent(stream: "s-5", type: "A", data: JSONText(#"{"n": 5}"#)),
            NewEvent(stream: "s-6", type: "A", data: JSONText(#"{"n": 6}"#), expectedVersion: .noStream),
        ]
        let results = try store.append(batch: events)
        XCTAssertEqual(try results[0].get(), Appended(position: 3, version: 1, duplicate: false))
        XCTAssertEqual(try results[1].get(), Appended(position: 1, version: 1, duplicate: true))
        XCTAssertEqual(results[2], .failure(.idempotencyConflict(key: "k2", position: 2)))
        XCTAssertEqual(results[3], .failure(.versionConflict(stream: "s-4", expected: .exactly(1), actual: 0)))
        XCTAssertEqual(try results[4].get(), Appended(position: 4, version: 1, duplicate: false))
        XCTAssertEqual(try results[5].get(), Appended(position: 5, version: 1, duplicate: false))
        let stored = try store.read(after: 2)
        XCTAssertEqual(stored.map(\.stream), ["s-3", "s-5", "s-6"])
        XCTAssertEqual(stored.map(\.eventID), [events[0].eventID, events[4].eventID, events[5].eventID])
        XCTAssertEqual(try store.append(batch: []).count, 0)
    }

    /// A batch decided against the registry as of a position is refused whole, storing nothing, once
    /// a consultation or organisation event lies after that position; other events do not count.
    func testBatchDecidedAgainstAnOldRegistryStoresNothing() throws {
        let opened = try store.append(NewEvent(stream: "consultation-c1", type: "ConsultationOpened", data: JSONText(#"{"id": "c1"}"#)))
        try store.append(NewEvent(stream: "s-0", type: "A", data: JSONText("{}")))
        for size in [1, 3] {
            let events = (0..<size).map { NewEvent(stream: "s-\(size)-\($0)", type: "A", data: JSONText("{}")) }
            XCTAssertThrowsError(try store.append(batch: events, registryAsOf: opened.position - 1)) { error in
                XCTAssertTrue(error is EventStore.RegistryMoved, "\(error)")
            }
            XCTAssertEqual(try store.headPosition(), 2 + Int64(size == 1 ? 0 : 1))
            XCTAssertEqual(try store.append(batch: events, registryAsOf: opened.position).count, size)
        }
        XCTAssertEqual(try store.headPosition(), 6)
    }
}
