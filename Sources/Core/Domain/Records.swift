import EventRecords
import Foundation
import JSON

// Typed events to and from the log's rows: a command's decision becomes a row to append, a row read
// back becomes a typed event. Pure, like the rest of Domain: the EventLog module stores the rows.

extension NewEvent {
    /// The event a command decided, with `metadata` (who, from where).
    public init(_ pending: PendingEvent, metadata: JSONValue = .object([])) {
        self.init(
            stream: pending.stream, type: pending.event.type, data: JSONText(pending.event.data.serialized),
            metadata: JSONText(metadata.serialized), expectedVersion: pending.expectedVersion, idempotencyKey: pending.idempotencyKey)
    }
}

extension NewEvent {
    /// An event with no expectation and no idempotency key (tests, benchmarks, tools).
    public init(_ event: DomainEvent) {
        self.init(PendingEvent(event))
    }
}

extension RecordedEvent {
    /// The event, typed; throws `EventDecodingError` for data that does not have its type's shape.
    public func decoded() throws -> DomainEvent {
        try DomainEvent(type: type, data: data, recordedAt: recordedAt)
    }
}

extension Registry {
    /// Applies a recorded event. Events the registry does not fold are not even decoded; one that
    /// does not decode throws `EventDecodingError` and changes nothing (no writer of consultd wrote it:
    /// `consultctl verify` names it).
    public mutating func apply(_ event: RecordedEvent) throws {
        apply(position: event.position, Self.folds.contains(event.type) ? try event.decoded() : nil)
    }
}
