import Domain
import EventLog
import Foundation
import JSON
import Locking
import Participation
import PostgresClient

/// Feeds the log to a `LogFold`, fast: the server extracts the few fields the fold uses from each
/// event's jsonb (printing a whole jsonb value as text costs more than the fold itself), the rows
/// come as one binary COPY stream folded as it arrives (no result per row), and only registry events
/// and outcomes travel whole.
/// The result is the same as folding `RecordedEvent`s through the typed decoder (`FoldEvent.init(_:)`);
/// the projection tests fold the same logs both ways and compare.
public enum LogReader {
    /// The columns `Decoder` reads, in its order; `whole` is a `text[]` expression (a parameter or a
    /// literal of ours) naming the types whose data travels whole.
    private static func columns(whole: String) -> String {
        """
        position, type, recorded_at,
               data->>'organisation', data->>'consultation', data->>'key',
               data#>>'{submission,stage}', data#>>'{submission,language}', (data#>'{submission,represents}')::text,
               CASE WHEN type = ANY(\(whole)::text[]) THEN data::text END
        """
    }

    /// The types that travel whole, as an array literal: constants of ours (COPY takes no parameters).
    private static let wholeLiteral: String = {
        let types = LogFold.wholeDataTypes.sorted()
        precondition(types.allSatisfy { $0.allSatisfy { $0.isASCII && $0.isLetter } }, "event types are plain words")
        return "'{" + types.joined(separator: ",") + "}'"
    }()

    /// The events after `after` up to `through`, at most `limit`: every bound an integer of ours.
    private static func copySQL(after: Int64, through: Int64, limit: Int?) -> String {
        """
        COPY (SELECT \(columns(whole: wholeLiteral))
                FROM consult.events
               WHERE position > \(after) AND position <= \(through)
               ORDER BY position\(limit.map { " LIMIT \($0)" } ?? ""))
          TO STDOUT (FORMAT binary)
        """
    }

    /// The earlier events of some submissions' streams (see `LogFold.remember`).
    private static let recallSQL = """
        SELECT \(columns(whole: "'{}'"))
          FROM consult.events
         WHERE stream = ANY($1::text[]) AND position <= $2
         ORDER BY position
        """

    /// The registry's consultation and organisation events up to a position (the small partial index
    /// events_registry finds them among millions: consult.event_types is immutable, so the planner
    /// sees a list of constants that its predicate covers). The types are named once, in SQL.
    private static let registrySQL = """
        SELECT \(columns(whole: "$2"))
          FROM consult.events
         WHERE type = ANY (consult.event_types('organisation', 'consultation'))
           AND position <= $1
         ORDER BY position
        """

    /// A row of `columns`, from a binary COPY or a streamed result.
    protocol Row {
        func text(_ column: Int) -> String?
        func integer(_ column: Int) throws -> Int64?
        func time(_ column: Int) throws -> Date?
    }

    /// Turns rows of `columns` into `FoldEvent`s.
    private struct Decoder {
        let parser = JSONParser.eventData
        /// The same few `represents` objects recur across thousands of submissions: each is parsed
        /// once (bounded, so that a log of all-different ones costs memory only up to the bound).
        var groups: [String: [String: [String]]] = [:]

        mutating func event(_ row: some Row) throws -> FoldEvent {
            var represents: [String: [String]] = [:]
            if let text = row.text(8) {
                if let known = groups[text] {
                    represents = known
                } else {
                    represents = FoldEvent.groups(try parser.parse(text))
                    if groups.count < 10_000 { groups[text] = represents }
                }
            }
            guard let position = try row.integer(0), let type = row.text(1), let recordedAt = try row.time(2) else {
                throw PostgresError(.decoding, message: "an event without position, type or time")
            }
            return FoldEvent(
                position: position, type: type, recordedAt: recordedAt,
                organisation: row.text(3), consultation: row.text(4), key: row.text(5),
                stage: row.text(6), language: row.text(7), represents: represents,
                event: try row.text(9).map { try DomainEvent(type: type, data: try parser.parse($0), recordedAt: recordedAt) })
        }
    }

    private static var wholeData: TextArray { TextArray(Array(LogFold.wholeDataTypes).sorted()) }

    /// Folds the events after `fold.position`, up to position `through` (default: all) and at most
    /// `limit` of them (default: no limit), calling `touched` with each consultation whose numbers
    /// may have changed. Returns the number of events read. The fold keeps every submission.
    @discardableResult
    public static func fold(
        _ connection: Connection, into fold: inout LogFold, through: Int64? = nil, limit: Int? = nil,
        touched: (String) -> Void = { _ in }
    ) throws -> Int {
        let end = min(through ?? Int64.max, try EventStore(connection: connection).headPosition())
        fold.reserveCapacity(min(Int(max(0, end - fold.position)), limit ?? Int.max))
        var decoder = Decoder()
        return try connection.copyOut(copySQL(after: fold.position, through: end, limit: limit)) { row in
            if let consultation = fold.apply(try decoder.event(row)) { touched(consultation) }
        }
    }

    /// Folds the events after `fold.position` up to `through` (default: all) like `fold`, reading
    /// them over `connection` and `second` at once, a chunk of positions each in turn, while the
    /// chunk before is folded: the server's extraction of fields from each event's jsonb is most of
    /// the work, and this way it runs on two cores. At most four chunks are held at a time, two per lane.
    @discardableResult
    public static func fold(
        _ connection: Connection, and second: Connection, into fold: inout LogFold, through: Int64? = nil, chunk: Int64 = 20_000
    ) throws -> Int {
        let end = min(through ?? Int64.max, try EventStore(connection: connection).headPosition())
        let starts = Array(stride(from: fold.position, to: end, by: Int(chunk)))
        guard starts.count > 1 else { return try self.fold(connection, into: &fold, through: end) }
        fold.reserveCapacity(Int(end - fold.position))
        let chunks = Locked([Result<[FoldEvent], Error>?](repeating: nil, count: starts.count))
        let ready = starts.map { _ in DispatchSemaphore(value: 0) }
        // Each lane may read at most two chunks ahead of the fold, counted per lane: with one count
        // shared, a fast lane could take every place while the fold waits for the slow lane's chunk.
        let room = [DispatchSemaphore(value: 2), DispatchSemaphore(value: 2)]
        let stopping = Locked(false)
        let readers = DispatchGroup()
        let lanes = [connection, second].map(UncheckedConnection.init)
        for (lane, reader) in lanes.enumerated() {
            readers.enter()
            Thread {
                defer { readers.leave() }
                var decoder = Decoder()
                for index in stride(from: lane, to: starts.count, by: 2) {
                    room[lane].wait()
                    if stopping.current { break }
                    let result = Result { () throws -> [FoldEvent] in
                        var events: [FoldEvent] = []
                        events.reserveCapacity(Int(chunk))
                        _ = try reader.connection.copyOut(copySQL(after: starts[index], through: min(starts[index] + chunk, end), limit: nil)) {
                            events.append(try decoder.event($0))
                        }
                        return events
                    }
                    chunks.withLock { $0[index] = result }
                    ready[index].signal()
                    if case .failure = result { break }
                }
            }.start()
        }
        var count = 0
        defer {
            // Done, or failed part way: the readers stop at their next chunk, and the connections
            // are the caller's again only once both have.
            stopping.withLock { $0 = true }
            room.forEach { $0.signal() }
            readers.wait()
        }
        for index in starts.indices {
            ready[index].wait()
            let events = try chunks.withLock { chunks -> [FoldEvent] in
                defer { chunks[index] = nil }
                return try chunks[index]!.get()
            }
            room[index % 2].signal()
            for event in events { fold.apply(event) }
            count += events.count
        }
        return count
    }

    /// A connection handed to one reader thread, used by it alone until the fold returns.
    private struct UncheckedConnection: @unchecked Sendable {
        let connection: Connection
    }

    /// Folds at most `limit` events after `fold.position` holding no submission afterwards: the
    /// projector's memory is bounded by consultations and organisations, not by the log. Earlier
    /// submissions that the events refer to are read back from the log (one query per call).
    @discardableResult
    public static func foldBounded(
        _ connection: Connection, into fold: inout LogFold, limit: Int, touched: (String) -> Void = { _ in }
    ) throws -> Int {
        var decoder = Decoder()
        var page: [FoldEvent] = []
        _ = try connection.copyOut(copySQL(after: fold.position, through: try EventStore(connection: connection).headPosition(), limit: limit)) { row in
            page.append(try decoder.event(row))
        }
        let needed = fold.submissionsNeeded(by: page)
        if !needed.isEmpty {
            let streams = needed.flatMap { id in
                [Streams.submission(organisation: id.organisation, consultation: id.consultation, key: id.key),
                 Streams.feedback(organisation: id.organisation, consultation: id.consultation, key: id.key)]
            }
            var earlier: [FoldEvent] = []
            _ = try connection.stream(recallSQL, [TextArray(streams.sorted()), fold.position]) { row in
                earlier.append(try decoder.event(row))
            }
            fold.remember(earlier)
        }
        for event in page {
            if let consultation = fold.apply(event) { touched(consultation) }
        }
        fold.forgetSubmissions()
        return page.count
    }

    /// The registry's consultation and organisation events up to `position`, for `LogFold.restore`.
    public static func registryEvents(_ connection: Connection, through position: Int64) throws -> [FoldEvent] {
        var decoder = Decoder()
        var events: [FoldEvent] = []
        _ = try connection.stream(registrySQL, [position, wholeData]) { events.append(try decoder.event($0)) }
        return events
    }
}

extension StreamedRow: LogReader.Row {
    func text(_ column: Int) -> String? { string(column) }
    func integer(_ column: Int) throws -> Int64? { try int64(column) }
    func time(_ column: Int) throws -> Date? { try date(column) }
}

extension BinaryCopyRow: LogReader.Row {
    func integer(_ column: Int) throws -> Int64? { column < fields.count && fields[column] != nil ? try int64(column) : nil }
    func time(_ column: Int) throws -> Date? { try date(column) }
}
