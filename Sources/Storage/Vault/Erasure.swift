import Crypto
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient

/// Erasure by destroying keys (docs/PRIVACY.md): the content stays in the log, sealed, and nobody can
/// open it again; the log, its hashes and the metrics do not change.
public enum Erasure {
    /// What to erase: one submission (organisation, consultation and key), all of one organisation's
    /// content (in one consultation, or everywhere), or all of one consultation's (retention).
    public struct Scope: Equatable, Sendable, CustomStringConvertible {
        public let organisation: String?
        public let consultation: String?
        public let key: String?

        public init(organisation: String?, consultation: String?, key: String?) throws {
            guard organisation != nil || consultation != nil else { throw VaultError("erase what? give an organisation or a consultation") }
            guard key == nil || (organisation != nil && consultation != nil) else {
                throw VaultError("a submission's key needs its organisation and consultation")
            }
            self.organisation = organisation
            self.consultation = consultation
            self.key = key
        }

        /// The scope in words, for messages.
        public var description: String {
            switch (organisation, consultation, key) {
            case let (organisation?, consultation?, key?): return "submission \(key) of \(organisation) in \(consultation)"
            case let (organisation?, consultation?, nil): return "\(organisation)'s content in \(consultation)"
            case let (organisation?, nil, _): return "all of \(organisation)'s content"
            case let (nil, consultation?, _): return "all content of consultation \(consultation)"
            case (nil, nil, _): return "nothing"
            }
        }
    }

    /// Destroys the content keys in `scope` and records a `ContentErased` event saying so, in one
    /// transaction. Returns how many events' content was erased: 0 when nothing was left (erasing again
    /// changes nothing and records nothing).
    public static func erase(_ scope: Scope, by: String, reason: String, store: EventStore) throws -> (events: Int, position: Int64?) {
        try store.connection.transaction { connection in
            let erased: Int = try connection.execute(
                """
                WITH gone AS (
                    DELETE FROM consult.content_keys
                     WHERE ($1::text IS NULL OR organisation = $1) AND ($2::text IS NULL OR consultation = $2)
                       AND ($3::text IS NULL OR submission_key = $3)
                    RETURNING 1)
                SELECT count(*) AS erased FROM gone
                """, [scope.organisation, scope.consultation, scope.key]
            ).first!.get("erased")
            guard erased > 0 else { return (0, nil) }
            let event = ContentErased(
                organisation: scope.organisation, consultation: scope.consultation, key: scope.key, by: by, reason: reason, events: erased)
            let metadata = JSONValue.object([("tool", .string("consultctl")), ("actor", .string(by))])
            let appended = try store.append(NewEvent(PendingEvent(.contentErased(event)), metadata: metadata))
            return (erased, appended.position)
        }
    }

    /// Applies every erasure the log records again: after a restore of a key backup older than some of
    /// them, the keys they destroyed are back, and this destroys them again (each only for events before
    /// its own position: content written later stays). Records nothing. Returns how many keys it deleted.
    public static func replay(store: EventStore) throws -> Int {
        var deleted = 0
        try store.connection.transaction { connection in
            for recorded in try EventStore(connection: connection).read(stream: Streams.erasures) {
                guard case .contentErased(let erasure) = try recorded.decoded() else { continue }
                deleted += try connection.execute(
                    """
                    WITH gone AS (
                        DELETE FROM consult.content_keys k USING consult.events e
                         WHERE e.event_id = k.event_id AND e.position < $4
                           AND ($1::text IS NULL OR k.organisation = $1) AND ($2::text IS NULL OR k.consultation = $2)
                           AND ($3::text IS NULL OR k.submission_key = $3)
                        RETURNING 1)
                    SELECT count(*) AS deleted FROM gone
                    """, [erasure.organisation, erasure.consultation, erasure.key, recorded.position]
                ).first!.get("deleted", as: Int.self)
            }
        }
        return deleted
    }
}

/// Master-key rotation without downtime (docs/PRIVACY.md): every data key gets a row sealed under the
/// new master key beside its old one; daemons still holding the old key keep working; once all hold
/// the new one, the old rows are retired.
public enum MasterKeyRotation {
    /// Seals under `new` every data key that `old` opens and `new` does not seal yet. Returns how many.
    public static func rotate(from old: MasterKey, to new: MasterKey, _ connection: Connection) throws -> Int {
        let store = KeyStore(connection: connection)
        let rows = try store.allDataKeys()
        let sealedUnderNew = Set(rows.filter { $0.masterKeyID == new.id }.map(\.id))
        var rotated = 0
        for row in rows where row.masterKeyID == old.id && !sealedUnderNew.contains(row.id) {
            let raw = try Sealing.open(row.wrapped, key: old.key, context: Sealing.organisationKeyContext(id: row.id, organisation: row.organisation))
            try store.insertDataKey(organisation: row.organisation, id: row.id, key: SymmetricKey(data: raw), master: new)
            rotated += 1
        }
        return rotated
    }

    /// Deletes the rows sealed under master key `id`. Refused while some data key has no other row
    /// (its content would be lost), unless `lost`: the key is gone anyway and so is that content.
    public static func retire(_ id: String, lost: Bool, _ connection: Connection) throws -> Int {
        try connection.transaction { connection in
            let stranded: Int = try connection.execute(
                """
                SELECT count(*) AS stranded FROM consult.organisation_keys k
                 WHERE k.master_key_id = $1
                   AND NOT EXISTS (SELECT FROM consult.organisation_keys o WHERE o.id = k.id AND o.master_key_id <> $1)
                """, [id]
            ).first!.get("stranded")
            if stranded > 0 && !lost {
                throw VaultError(
                    "\(stranded) data key(s) are sealed only under master key \(id): run `consultctl keys rotate-master` first "
                        + "(or give --lost if that key is lost: their content is then lost too)")
            }
            return try connection.execute(
                "WITH gone AS (DELETE FROM consult.organisation_keys WHERE master_key_id = $1 RETURNING 1) SELECT count(*) AS n FROM gone", [id]
            ).first!.get("n")
        }
    }
}
