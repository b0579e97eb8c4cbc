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
    private static let sql = """
        SELECT position, type, recorded_at,
               data->>'organisation', data->>'consultation', data->>'key',
               data#>>'{submission,stage}', data#>>'{submission,language}', (data#>'{submission,represents}')::text,
               CASE WHEN type = ANY($4::text[]) THEN data::text END
          FROM consult.events
         WHERE position > $1 AND position <= $2
         ORDER BY position
         LIMIT $3
        """

    /// Folds the events after `fold.position`, up to position `through` (default: all) and at most
    /// `limit` of them (default: no limit), calling `touched` with each consultation whose numbers
    /// may have changed. Returns the number of events read.
    @discardableResult
    public static func fold(
        _ connection: Connection, into fold: inout LogFold, through: Int64? = nil, limit: Int? = nil,
        touched: (String) -> Void = { _ in }
    ) throws -> Int {
        let parser = JSONParser.eventData
        let wholeData = TextArray(Array(LogFold.wholeDataTypes).sorted())
        let head = try connection.execute("SELECT coalesce(max(position), 0) AS head FROM consult.events").first!.get("head", as: Int64.self)
        let end = min(through ?? head, head)
        fold.reserveCapacity(min(Int(max(0, end - fold.position)), limit ?? Int.max))
        // The same few `represents` objects recur across thousands of submissions: parse each once
        // (bounded, so that a log of all-different ones costs memory only up to the bound).
        var groups: [String: [String: [String]]] = [:]
        return try connection.stream(sql, [fold.position, end, limit, wholeData]) { row in
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
            let event = FoldEvent(
                position: try row.int64(0)!, type: type, recordedAt: recordedAt,
                organisation: row.string(3), consultation: row.string(4), key: row.string(5),
                stage: row.string(6), language: row.string(7), represents: represents,
                event: try row.string(9).map { try DomainEvent(type: type, data: try parser.parse($0), recordedAt: recordedAt) })
            if let consultation = fold.apply(event) { touched(consultation) }
        }
    }
}
