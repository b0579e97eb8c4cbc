import EventRecords
import Foundation
import JSON
import PostgresClient

extension ExpectedVersion {
    /// As `consult.append` takes it: NULL for any, 0 for no stream yet, else the version.
    var parameter: Int64? {
        switch self {
        case .any: return nil
        case .noStream: return 0
        case .exactly(let version): return version
        }
    }
}

extension RecordedEvent {
    /// A row of `consult.events` as the log's reads select it.
    init(row: Row) throws {
        self.init(
            position: try row.get("position"), eventID: try row.get("event_id"), stream: try row.get("stream"),
            version: try row.get("version"), type: try row.get("type"), data: try row.get("data"), metadata: try row.get("metadata"),
            recordedAt: try row.get("recorded_at"), idempotencyKey: try row.optional("idempotency_key"))
    }
}
