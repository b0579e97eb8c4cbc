import EventRecords
import Foundation
import PostgresClient

/// Appends to and reads from the log (`consult.events`) over one connection.
///
/// Ordering and completeness are guaranteed by the database (see `consult.lock_log` in
/// `schema/functions/lock_log.sql`): positions are contiguous and commit in order, so reading
/// "after position p" never misses an event that commits later with a smaller position.
public final class EventStore {
    public let connection: Connection

    /// The channel the log notifies on each commit that appended events.
    public static let channel = "consult_log"

    public init(connection: Connection) {
        self.connection = connection
    }

    private static let appendSQL =
        "SELECT outcome, log_position, stream_version FROM consult.append($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)"

    private static func outcome(_ result: QueryResult, for event: NewEvent) throws -> Result<Appended, AppendError> {
        guard let row = result.first else {
            throw PostgresError(.decoding, message: "consult.append returned no row")
        }
        return try outcome(row: row, for: event)
    }

    private static func outcome(row: Row, for event: NewEvent) throws -> Result<Appended, AppendError> {
        let outcome: String = try row.get("outcome")
        switch outcome {
        case "appended", "duplicate":
            return .success(
                Appended(
                    position: try row.get("log_position"), version: try row.get("stream_version"),
                    duplicate: outcome == "duplicate"))
        case "key_conflict":
            return .failure(.idempotencyConflict(key: event.idempotencyKey ?? "", position: try row.get("log_position")))
        case "version_conflict":
            return .failure(
                .versionConflict(stream: event.stream, expected: event.expectedVersion, actual: try row.get("stream_version")))
        default:
            throw PostgresError(.decoding, message: "consult.append returned unknown outcome \(outcome)", field: "outcome")
        }
    }

    /// Appends one event in its own transaction (with the key its personal content is sealed under,
    /// if any); returns once it is committed.
    @discardableResult
    public func append(_ event: NewEvent, contentKey: ContentKey? = nil, registryAsOf: Int64? = nil) throws -> Appended {
        if contentKey != nil || registryAsOf != nil {
            return try append(batch: [event], contentKeys: [contentKey], registryAsOf: registryAsOf)[0].get()
        }
        let result = try connection.execute(
            Self.appendSQL,
            [event.eventID, event.stream, event.type, event.data, event.metadata, event.expectedVersion.parameter,
             event.idempotencyKey])
        return try Self.outcome(result, for: event).get()
    }

    private static let appendBatchSQL = """
        SELECT outcome, log_position, stream_version
          FROM consult.append_batch_sealed($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bigint[], $7::text[],
                                           $8::text[], $9::text[], $10::text[], $11::uuid[], $12::text[], $13)
        """

    /// The registry moved past the position a batch was decided as of: nothing was stored.
    public struct RegistryMoved: Error {
        public init() {}
    }

    /// Appends `events` in one transaction: one statement, one round trip, one commit. Refusals
    /// (version or key conflicts) are per event and do not stop the others; any other failure
    /// stores nothing and throws `PostgresError`. `contentKeys[i]`, when given, is stored with event i
    /// if it is appended (the key its personal content is sealed under). With `registryAsOf`, stores
    /// nothing and throws `RegistryMoved` if a consultation or organisation event lies after that
    /// position (the events were admitted against an older registry). Returns once committed.
    public func append(
        batch events: [NewEvent], contentKeys: [ContentKey?]? = nil, registryAsOf: Int64? = nil
    ) throws -> [Result<Appended, AppendError>] {
        guard !events.isEmpty else { return [] }
        try send(batch: Self.parameters(batch: events, contentKeys: contentKeys, registryAsOf: registryAsOf))
        return try receive(batch: events)
    }

    /// The parameters of `append(batch:)`, encoded now: the group committer encodes a batch while
    /// the database appends the one before.
    public static func parameters(batch events: [NewEvent], contentKeys: [ContentKey?]? = nil, registryAsOf: Int64? = nil)
        -> [PostgresEncodable?]
    {
        let keys = contentKeys ?? Array(repeating: nil, count: events.count)
        precondition(keys.count == events.count, "one content key (or nil) per event")
        let arrays: [TextArray] = [
            TextArray(events.map { $0.eventID.uuidString }), TextArray(events.map(\.stream)), TextArray(events.map(\.type)),
            TextArray(events.map(\.data.text)), TextArray(events.map(\.metadata.text)),
            TextArray(events.map { $0.expectedVersion.parameter.map(String.init) }), TextArray(events.map(\.idempotencyKey)),
            TextArray(keys.map { $0?.organisation }), TextArray(keys.map { $0?.consultation }), TextArray(keys.map { $0?.submissionKey }),
            TextArray(keys.map { $0?.organisationKey.uuidString }), TextArray(keys.map { $0?.wrapped.base64EncodedString() }),
        ]
        return arrays.map { Encoded($0) } + [registryAsOf]
    }

    /// `append(batch:)` in two steps: sends the statement (`parameters(batch:…)`, for a non-empty
    /// batch) and returns at once...
    public func send(batch parameters: [PostgresEncodable?]) throws {
        try connection.send(Self.appendBatchSQL, parameters)
    }

    /// ... and waits for the outcome of each of `events`, the batch sent.
    public func receive(batch events: [NewEvent]) throws -> [Result<Appended, AppendError>] {
        let result = try connection.receive()
        guard result.rows.count == events.count else {
            throw PostgresError(.decoding, message: "consult.append_batch returned \(result.rows.count) rows for \(events.count) events")
        }
        if try result.first?.get("outcome", as: String.self) == "registry_moved" { throw RegistryMoved() }
        return try zip(result.rows, events).map { try Self.outcome(row: $0, for: $1) }
    }

    /// The columns `RecordedEvent.init(row:)` reads, for the reads below.
    private static let recordedColumns =
        "position, event_id, stream, version, type, data::text AS data, metadata::text AS metadata, recorded_at, idempotency_key"

    /// Up to `limit` events with position greater than `position`, in position order.
    public func read(after position: Int64, limit: Int = 1000) throws -> [RecordedEvent] {
        try connection.execute(
            """
            SELECT \(Self.recordedColumns)
              FROM consult.events WHERE position > $1 ORDER BY position LIMIT $2
            """, [position, limit]
        ).rows.map(RecordedEvent.init(row:))
    }

    /// The events at `positions` (those that exist), in position order.
    public func read(positions: [Int64]) throws -> [RecordedEvent] {
        guard !positions.isEmpty else { return [] }
        return try connection.execute(
            """
            SELECT \(Self.recordedColumns)
              FROM consult.events WHERE position = ANY($1::bigint[]) ORDER BY position
            """, [TextArray(positions.map { String($0) })]
        ).rows.map(RecordedEvent.init(row:))
    }

    /// The events of one stream, in version order.
    public func read(stream: String) throws -> [RecordedEvent] {
        try connection.execute(
            """
            SELECT \(Self.recordedColumns)
              FROM consult.events WHERE stream = $1 ORDER BY version
            """, [stream]
        ).rows.map(RecordedEvent.init(row:))
    }

    /// The last event of `type` in `stream`, if any.
    public func latest(stream: String, type: String) throws -> RecordedEvent? {
        try connection.execute(
            """
            SELECT \(Self.recordedColumns)
              FROM consult.events WHERE stream = $1 AND type = $2 ORDER BY version DESC LIMIT 1
            """, [stream, type]
        ).rows.first.map(RecordedEvent.init(row:))
    }

    /// Events of the given types after `position`, and the head of the log they were read up to,
    /// from one snapshot: since positions are gap-free, nothing of those types lies in between.
    /// `types` are event type names of ours (plain words), named in the SQL itself so that a partial
    /// index on them (events_registry, for the registry's types) applies: from position 0 on a large
    /// log, a scan of the log instead outlasts the statement timeout.
    public func read(after position: Int64, types: [String]) throws -> (events: [RecordedEvent], head: Int64) {
        precondition(!types.isEmpty && types.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isLetter } },
                     "event types are plain words")
        let named = types.map { "'\($0)'" }.joined(separator: ", ")
        let rows = try connection.execute(
            """
            WITH head AS (SELECT coalesce(max(position), 0) AS head FROM consult.events)
            SELECT head.head, e.position, e.event_id, e.stream, e.version, e.type, e.data::text AS data,
                   e.metadata::text AS metadata, e.recorded_at, e.idempotency_key
              FROM head LEFT JOIN consult.events e
                ON e.position > $1 AND e.position <= head.head AND e.type IN (\(named))
             ORDER BY e.position
            """, [position]
        ).rows
        let head: Int64 = try rows.first?.get("head") ?? position
        let events = try rows.filter { try $0.optional("position", as: Int64.self) != nil }.map(RecordedEvent.init(row:))
        return (events, head)
    }

    /// The position of the last committed event (0 for an empty log).
    public func headPosition() throws -> Int64 {
        try connection.execute("SELECT coalesce(max(position), 0) AS head FROM consult.events").first!.get("head")
    }
}
