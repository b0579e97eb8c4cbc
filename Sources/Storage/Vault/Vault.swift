import Crypto
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import Locking
import PostgresClient

/// An event ready to append: its data with personal content sealed, and the key to store beside it.
public struct SealedEvent: Sendable {
    public let event: NewEvent
    /// nil when the event carries no personal content.
    public let contentKey: ContentKey?

    public init(event: NewEvent, contentKey: ContentKey?) {
        self.event = event
        self.contentKey = contentKey
    }
}

/// Seals personal content as it goes into the log and opens it as it comes out (docs/PRIVACY.md).
/// Holds the master key and the organisations' data keys it has opened; safe to share between threads.
public final class Vault: Sendable {
    public let master: MasterKey
    private let dataKeys = Locked<[String: DataKey]>([:])  // by organisation: the key new content is sealed under
    private let openedKeys = Locked<[UUID: Secret]>([:])  // by data key id
    private let loading = Locked(())

    struct DataKey: Sendable {
        let id: UUID
        let secret: Secret
        var key: SymmetricKey { secret.key }
    }

    public init(master: MasterKey) {
        self.master = master
    }

    // MARK: Sealing

    /// Seals the personal content of `events` (those of types that carry any, whose content is still
    /// plain text); others pass unchanged. Creates an organisation's data key the first time it is needed.
    public func seal(_ events: [NewEvent], _ connection: Connection) throws -> [SealedEvent] {
        // Each carrying event's data parsed once: its organisation, then its text.
        let parsed = try events.map { event -> JSONValue? in PersonalContent.carried(by: event.type) ? try Self.data(of: event) : nil }
        let owners = parsed.map { $0?["organisation"]?.stringValue }
        try loadDataKeys(for: Set(owners.compactMap { $0 }), connection)
        return try events.indices.map { index in
            guard let data = parsed[index], let owner = owners[index] else { return SealedEvent(event: events[index], contentKey: nil) }
            // Never stored in plain text for want of a key: loadDataKeys opened or made one for every owner.
            guard let dataKey = dataKeys.withLock({ $0[owner] }) else { throw VaultError("no data key open for an organisation") }
            return try seal(events[index], data: data, owner: owner, under: dataKey)
        }
    }

    /// `event` sealed without the database, when its organisation's data key is open in this process
    /// already; nil when it is not (then `seal(_:_:)`, with a connection, opens or makes it).
    public func sealIfKeyOpen(_ event: NewEvent) throws -> SealedEvent? {
        guard PersonalContent.carried(by: event.type) else { return SealedEvent(event: event, contentKey: nil) }
        let data = try Self.data(of: event)
        guard let owner = data["organisation"]?.stringValue else { return SealedEvent(event: event, contentKey: nil) }
        guard let dataKey = dataKeys.withLock({ $0[owner] }) else { return nil }
        return try seal(event, data: data, owner: owner, under: dataKey)
    }

    /// Opens (or makes) `organisation`'s data key now, so that its writes can be sealed where they
    /// are read, before the committer takes them (`sealIfKeyOpen`). Does nothing if it is open.
    public func openDataKey(for organisation: String, _ connection: Connection) throws {
        try loadDataKeys(for: [organisation], connection)
    }

    /// Whether `organisation`'s data key is open in this process.
    public func hasOpenDataKey(for organisation: String) -> Bool {
        dataKeys.withLock { $0[organisation] != nil }
    }

    /// One event sealed: its text under a new content key, that key under the organisation's data key.
    private func seal(_ event: NewEvent, data: JSONValue, owner: String, under dataKey: DataKey) throws -> SealedEvent {
        guard let path = PersonalContent.paths[event.type], case .string(let text)? = data.value(at: path) else {
            return SealedEvent(event: event, contentKey: nil)
        }
        let contentKey = SymmetricKey(size: .bits256)
        let box = try Sealing.seal(Data(text.utf8), key: contentKey, context: Sealing.contentContext(event: event.eventID, path: path))
        var sealed = event
        sealed.data = JSONText(data.replacing(at: path) { _ in PersonalText.sealed(box.base64EncodedString()).json }.serialized)
        let wrapped = try contentKey.withUnsafeBytes {
            try Sealing.seal(Data($0), key: dataKey.key, context: Sealing.contentKeyContext(event: event.eventID))
        }
        return SealedEvent(
            event: sealed,
            contentKey: ContentKey(
                organisation: owner, consultation: data["consultation"]?.stringValue ?? "", submissionKey: data["key"]?.stringValue ?? "",
                organisationKey: dataKey.id, wrapped: wrapped))
    }

    private static func data(of event: NewEvent) throws -> JSONValue {
        do {
            return try JSONParser.eventData.parse(event.data.text)
        } catch {
            throw VaultError("event data is not JSON")
        }
    }

    /// Makes sure a data key sealed under this master key is open for each of `organisations`.
    private func loadDataKeys(for organisations: Set<String>, _ connection: Connection) throws {
        guard dataKeys.withLock({ keys in organisations.contains { keys[$0] == nil } }) else { return }
        // One thread at a time looks keys up or makes them, so that the daemon makes one key per
        // organisation: the read pool opens it when the organisation authenticates, and the
        // committer may need it for the submission right behind.
        try loading.withLock { _ in try loadMissingDataKeys(for: organisations, connection) }
    }

    private func loadMissingDataKeys(for organisations: Set<String>, _ connection: Connection) throws {
        let missing = dataKeys.withLock { keys in organisations.filter { keys[$0] == nil } }
        guard !missing.isEmpty else { return }
        let store = KeyStore(connection: connection)
        var found = try store.dataKeys(organisations: Array(missing), master: master.id)
        for organisation in missing where found[organisation] == nil {
            try store.insertDataKey(organisation: organisation, id: UUID(), key: SymmetricKey(size: .bits256), master: master)
            found = found.merging(try store.dataKeys(organisations: [organisation], master: master.id)) { $1 }
        }
        for (organisation, row) in found {
            let key = try open(dataKey: row)
            dataKeys.withLock { $0[organisation] = DataKey(id: row.id, secret: Secret(key: key)) }
        }
    }

    private func open(dataKey row: KeyStore.DataKeyRow) throws -> SymmetricKey {
        if let opened = openedKeys.withLock({ $0[row.id] }) { return opened.key }
        let raw = try Sealing.open(row.wrapped, key: master.key, context: Sealing.organisationKeyContext(id: row.id, organisation: row.organisation))
        let key = SymmetricKey(data: raw)
        openedKeys.withLock { $0[row.id] = Secret(key: key) }
        return key
    }

    // MARK: Opening

    /// The events with their personal content opened: plain text, or `{"erased": true}` where the
    /// event's key is gone. Events without sealed content pass unchanged.
    public func open(_ events: [RecordedEvent], _ connection: Connection) throws -> [RecordedEvent] {
        let sealed = events.filter { PersonalContent.carried(by: $0.type) && $0.data.contains(#""sealed""#) }
        guard !sealed.isEmpty else { return events }
        let sealedIDs = Set(sealed.map(\.eventID))
        let store = KeyStore(connection: connection)
        let contentKeys = try store.contentKeys(events: sealed.map(\.eventID))
        let dataKeyIDs = Set(contentKeys.values.map(\.organisationKey)).filter { id in openedKeys.withLock { $0[id] == nil } }
        if !dataKeyIDs.isEmpty {
            let rows = try store.dataKeys(ids: Array(dataKeyIDs))
            for id in dataKeyIDs {
                guard let row = rows.first(where: { $0.id == id && $0.masterKeyID == master.id }) else {
                    if let other = rows.first(where: { $0.id == id }) {
                        throw VaultError(
                            "the master key given (id \(master.id)) is not the one this content's keys are sealed under (id \(other.masterKeyID)): "
                                + "give that key; without it the content is lost, the metrics are not")
                    }
                    continue  // the data key itself is gone: its content reads as erased
                }
                _ = try open(dataKey: row)
            }
        }
        return try events.map { event in
            guard let path = PersonalContent.paths[event.type], sealedIDs.contains(event.eventID) else { return event }
            let data = try JSONParser.eventData.parse(event.data)
            guard case .sealed(let box)? = data.value(at: path).flatMap(PersonalText.init(json:)) else { return event }
            var text = PersonalText.erased
            if let row = contentKeys[event.eventID], let dataKey = openedKeys.withLock({ $0[row.organisationKey] }) {
                let contentKey = SymmetricKey(data: try Sealing.open(row.wrapped, key: dataKey.key, context: Sealing.contentKeyContext(event: event.eventID)))
                guard let boxBytes = Data(base64Encoded: box) else { throw VaultError("position \(event.position): sealed content is not base64") }
                let plain = try Sealing.open(boxBytes, key: contentKey, context: Sealing.contentContext(event: event.eventID, path: path))
                text = .plain(String(decoding: plain, as: UTF8.self))
            }
            let opened = data.replacing(at: path) { _ in text.json }
            return RecordedEvent(
                position: event.position, eventID: event.eventID, stream: event.stream, version: event.version, type: event.type,
                data: opened.serialized, metadata: event.metadata, recordedAt: event.recordedAt, idempotencyKey: event.idempotencyKey)
        }
    }

    /// For each write whose key was taken, whether the event stored at `position` is `plain` (before
    /// sealing): same stream, type and data once opened. A retry of a sealed write cannot be compared
    /// in SQL (each sealing differs); content already erased compares unequal. Three statements
    /// whatever the count, so a client resending a pipeline of submissions costs the committer, which
    /// everyone waits on, little more than one submission does.
    public func storedEvents(at positions: [Int64], match plains: [NewEvent], _ connection: Connection) throws -> [Bool] {
        precondition(positions.count == plains.count, "one position per event")
        guard !positions.isEmpty else { return [] }
        let stored = try open(EventStore(connection: connection).read(positions: Array(Set(positions))), connection)
        let byPosition = Dictionary(stored.map { ($0.position, $0) }, uniquingKeysWith: { first, _ in first })
        let comparable = positions.indices.filter { index in
            byPosition[positions[index]].map { $0.stream == plains[index].stream && $0.type == plains[index].type } ?? false
        }
        var same = [Bool](repeating: false, count: positions.count)
        guard !comparable.isEmpty else { return same }
        // jsonb's equality, not text's: key order and spacing differ between a client's body and what was stored.
        let rows = try connection.execute(
            "SELECT a = b AS same FROM unnest($1::jsonb[], $2::jsonb[]) WITH ORDINALITY AS u(a, b, n) ORDER BY n",
            [TextArray(comparable.map { byPosition[positions[$0]]!.data }), TextArray(comparable.map { plains[$0].data.text })]
        ).rows
        guard rows.count == comparable.count else { throw VaultError("compared \(comparable.count) events, got \(rows.count) answers") }
        for (index, row) in zip(comparable, rows) { same[index] = try row.get("same") }
        return same
    }

    /// Checks that this master key opens the data keys the database holds: one clear line if it does
    /// not (the wrong file, or a lost key).
    public func check(_ connection: Connection) throws {
        let ids = try KeyStore(connection: connection).masterKeyIDs()
        guard !ids.isEmpty, !ids.contains(master.id) else { return }
        throw VaultError(
            "the master key given (id \(master.id)) seals none of the organisations' data keys (they are sealed under \(ids.sorted().joined(separator: ", "))): "
                + "give the right --master-key-file; if that key is lost, so is the content sealed under it (the metrics are not), "
                + "and `consultctl keys retire-master --lost` starts afresh")
    }
}
