import Crypto
import Foundation
import PostgresClient

/// The key tables outside the log (`consult.organisation_keys`, `consult.content_keys`, schema/006).
/// Keys travel as base64 text (PostgreSQL breaks it into lines of 76, which decoding skips).
struct KeyStore {
    let connection: Connection

    /// One organisation data key as stored: sealed under the master key `masterKeyID`.
    struct DataKeyRow {
        let id: UUID
        let organisation: String
        let masterKeyID: String
        let wrapped: Data

        init(row: Row) throws {
            id = try row.get("id")
            organisation = try row.get("organisation")
            masterKeyID = try row.get("master_key_id")
            wrapped = try KeyStore.wrapped(row)
        }
    }

    /// One event's content key as stored.
    struct ContentKeyRow {
        let organisationKey: UUID
        let wrapped: Data
    }

    /// For each organisation, its oldest data key sealed under `master` (two daemons may each have
    /// made one at once: either opens its own content, so keeping both is harmless).
    func dataKeys(organisations: [String], master: String) throws -> [String: DataKeyRow] {
        let rows = try connection.execute(
            """
            SELECT DISTINCT ON (organisation) id, organisation, master_key_id, encode(wrapped, 'base64') AS wrapped
              FROM consult.organisation_keys
             WHERE organisation = ANY($1::text[]) AND master_key_id = $2
             ORDER BY organisation, created_at, id
            """, [TextArray(organisations), master]
        ).rows
        return Dictionary(try rows.map { let key = try DataKeyRow(row: $0); return (key.organisation, key) }) { first, _ in first }
    }

    /// The rows of the data keys `ids`, under every master key that seals them.
    func dataKeys(ids: [UUID]) throws -> [DataKeyRow] {
        try connection.execute(
            "SELECT id, organisation, master_key_id, encode(wrapped, 'base64') AS wrapped FROM consult.organisation_keys WHERE id = ANY($1::uuid[])",
            [TextArray(ids.map(\.uuidString))]
        ).rows.map(DataKeyRow.init(row:))
    }

    /// Every data key of every organisation (for rotation).
    func allDataKeys() throws -> [DataKeyRow] {
        try connection.execute(
            "SELECT id, organisation, master_key_id, encode(wrapped, 'base64') AS wrapped FROM consult.organisation_keys ORDER BY created_at, id"
        ).rows.map(DataKeyRow.init(row:))
    }

    func insertDataKey(organisation: String, id: UUID, key: SymmetricKey, master: MasterKey) throws {
        let wrapped = try key.withUnsafeBytes {
            try Sealing.seal(Data($0), key: master.key, context: Sealing.organisationKeyContext(id: id, organisation: organisation))
        }
        try connection.execute(
            """
            INSERT INTO consult.organisation_keys (id, organisation, master_key_id, wrapped)
            VALUES ($1, $2, $3, decode($4, 'base64')) ON CONFLICT DO NOTHING
            """, [id, organisation, master.id, wrapped.base64EncodedString()])
    }

    /// The content keys of `events` that still exist.
    func contentKeys(events: [UUID]) throws -> [UUID: ContentKeyRow] {
        let rows = try connection.execute(
            """
            SELECT event_id, organisation_key, encode(wrapped, 'base64') AS wrapped
              FROM consult.content_keys WHERE event_id = ANY($1::uuid[])
            """, [TextArray(events.map(\.uuidString))]
        ).rows
        var keys: [UUID: ContentKeyRow] = [:]
        for row in rows {
            keys[try row.get("event_id")] = ContentKeyRow(organisationKey: try row.get("organisation_key"), wrapped: try KeyStore.wrapped(row))
        }
        return keys
    }

    /// A row's `wrapped` column, selected as `encode(wrapped, 'base64')`.
    static func wrapped(_ row: Row) throws -> Data {
        guard let bytes = Data(base64Encoded: try row.get("wrapped", as: String.self), options: .ignoreUnknownCharacters) else {
            throw VaultError("a stored key is not base64")
        }
        return bytes
    }

    /// The master keys that seal the stored data keys.
    func masterKeyIDs() throws -> Set<String> {
        Set(try connection.execute("SELECT DISTINCT master_key_id FROM consult.organisation_keys").rows.map { try $0.get("master_key_id") })
    }
}
