import Domain
import EventLog
import Foundation
import JSON
import Metrics
import PostgresClient

/// Feeds the log to a `LogFold`, fast: the server extracts the few fields the fold uses from each
/// event's jsonb (printing a whole jsonb value as text costs more than the fold itself), the rows
/// stream in while earlier ones are folded, and only registry events and outcomes travel whole.
/// The result is the same as folding `RecordedEvent`s through the typed decoder (`FoldEvent.init(_:)`);
/// the projection tests fold the same logs both ways and compare.
public enum LogReader {
    /// The columns `Decoder` reads, in its order; `$whole` lists the types that travel whole.
    private static func columns(whole: String) -> String {
        """
        position, type, recorded_at,
               data->>'organisation', data->>'consultation', data->>'key',
               data#>>'{submission,stage}', data#>>'{submission,language}', (data#>'{submission,represents}')::text,
               CASE WHEN type = ANY(\(whole)::text[]) THEN data::text END
        """
    }

    private static let sql = """
        SELECT \(columns(whole: "$4"))
          FROM consult.events
         WHERE position > $1 AND position <= $2
         ORDER BY position
         LIMIT $3
        """

    /// The earlier events of some submissions' streams (see `LogFold.remember`).
    private static let recallSQL = """
        SELECT \(columns(whole: "'{}'"))
          FROM consult.events
         WHERE stream = ANY($1::text[]) AND position <= $2
         ORDER BY position
        """

    /// The registry's consultation and organisation events up to a position (the small partial index
    /// events_registry finds them among millions).
    private static let registrySQL = """
        SELECT \(columns(whole: "$2"))
          FROM consult.events
         WHERE type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged')
           AND position <= $1
         ORDER BY position
        """

    /// Turns rows of `columns` into `FoldEvent`s.
    private struct Decoder {
        let parser = JSONParser.eventData
        /// The same few `represents` objects recur across thousands of submissions: each is parsed
        /// once (bounded, so that a log of all-different ones costs memory only up to the bound).
        var groups: [String: [String: [String]]] = [:]

        mutating func event(_ row: StreamedRow) throws -> FoldEvent {
            var represents: [String: [String]] = [:]
            if let text = row.string(8) {
                if let known = groups[text] {
                    represents = known
                } else {
                    represents = FoldEvent.groups(try parser.parse(text))
                    if groups.count < 10_000 { groups[text] = represents }
                }
            }
            let type: String = try row.get(1)
            let recordedAt = try row.date(2)!
            return FoldEvent(
                position: try row.int64(0)!, type: type, recordedAt: recordedAt,
                organisation: row.string(3), consultation: row.string(4), key: row.string(5),
                stage: row.string(6), language: row.string(7), represents: represents,
                event: try row.string(9).map { try DomainEvent(type: type, data: try parser.parse($0), recordedAt: recordedAt) })
        }
    }

    private static var wholeData: TextArray { TextArray(Array(LogFold.wholeDataTypes).sorted()) }

    private static func head(_ connection: Connection) throws -> Int64 {
        try connection.execute("SELECT coalesce(max(position), 0) AS head FROM consult.events").first!.get("head")
    }

    /// Folds the events after `fold.position`, up to position `through` (default: all) and at most
    /// `limit` of them (default: no limit), calling `touched` with each consultation whose numbers
    /// may have changed. Returns the number of events read. The fold keeps every submission.
    @discardableResult
    public static func fold(
        _ connection: Connection, into fold: inout LogFold, through: Int64? = nil, limit: Int? = nil,
        touched: (String) -> Void = { _ in }
    ) throws -> Int {
        let end = min(through ?? Int64.max, try head(connection))
        fold.reserveCapacity(min(Int(max(0, end - fold.position)), limit ?? Int.max))
        var decoder = Decoder()
        return try connection.stream(sql, [fold.position, end, limit, wholeData]) { row in
            if let consultation = fold.apply(try decoder.event(row)) { touched(consultation) }
        }
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
        _ = try connection.stream(sql, [fold.position, try head(connection), limit, wholeData]) { row in
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
