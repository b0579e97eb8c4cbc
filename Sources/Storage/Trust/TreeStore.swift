import EventRecords
import Foundation
import Merkle
import PostgresClient

/// The stored tree (`consult.merkle_nodes`) and checkpoints (`consult.checkpoints`) over one connection.
public struct TreeStore {
    public let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Leaves stored so far (the tree covers positions 1 through this).
    public func size() throws -> Int64 {
        try connection.execute("SELECT coalesce(max(index) + 1, 0) AS size FROM consult.merkle_nodes WHERE level = 0")
            .first!.get("size")
    }

    /// The stored hashes of `ids`; throws if one is missing (the tree is behind or was tampered with).
    public func nodes(_ ids: [NodeID]) throws -> [NodeID: Hash] {
        guard !ids.isEmpty else { return [:] }
        let rows = try connection.execute(
            """
            SELECT n.level, n.index, encode(n.hash, 'hex') AS hash
              FROM unnest($1::smallint[], $2::bigint[]) AS wanted(level, index)
              JOIN consult.merkle_nodes n ON n.level = wanted.level AND n.index = wanted.index
            """, [TextArray(ids.map { String($0.level) }), TextArray(ids.map { String($0.index) })]
        ).rows
        var found: [NodeID: Hash] = [:]
        for row in rows {
            guard let hash = Hash(hex: try row.get("hash")) else { throw TrustError("a stored node is not 32 bytes") }
            found[NodeID(level: try row.get("level"), index: try row.get("index"))] = hash
        }
        if let missing = ids.first(where: { found[$0] == nil }) {
            throw TrustError("the stored tree lacks node \(missing.level)/\(missing.index)")
        }
        return found
    }

    /// Stores nodes completed by appends, in one statement.
    public func insert(_ nodes: [(NodeID, Hash)]) throws {
        guard !nodes.isEmpty else { return }
        try connection.execute(
            """
            INSERT INTO consult.merkle_nodes (level, index, hash)
            SELECT l, i, decode(h, 'hex') FROM unnest($1::smallint[], $2::bigint[], $3::text[]) AS u(l, i, h)
            """,
            [TextArray(nodes.map { String($0.0.level) }), TextArray(nodes.map { String($0.0.index) }),
             TextArray(nodes.map { $0.1.hex })])
    }

    static let checkpointColumns = "tree_size, encode(root, 'hex') AS root, (extract(epoch FROM log_time) * 1000000)::bigint AS time_us, key_id, encode(signature, 'hex') AS signature, origin"

    static func checkpoint(_ row: Row) throws -> Checkpoint {
        guard let root = Hash(hex: try row.get("root")), let signature = Hash.bytes(hex: try row.get("signature")) else {
            throw TrustError("a stored checkpoint is malformed")
        }
        return Checkpoint(
            size: try row.get("tree_size"), root: root, logTimeMicroseconds: try row.get("time_us"), keyID: try row.get("key_id"),
            signature: signature, origin: try row.optional("origin", as: String.self))
    }

    /// The latest checkpoint, if any.
    public func latestCheckpoint() throws -> Checkpoint? {
        try connection.execute("SELECT \(Self.checkpointColumns) FROM consult.checkpoints ORDER BY tree_size DESC LIMIT 1")
            .rows.first.map(Self.checkpoint)
    }

    /// The first checkpoint that covers `position` (the one a report as of that position cites).
    public func checkpoint(covering position: Int64) throws -> Checkpoint? {
        try connection.execute(
            "SELECT \(Self.checkpointColumns) FROM consult.checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1", [position]
        ).rows.first.map(Self.checkpoint)
    }

    /// Every checkpoint, by size.
    public func checkpoints() throws -> [Checkpoint] {
        try connection.execute("SELECT \(Self.checkpointColumns) FROM consult.checkpoints ORDER BY tree_size").rows.map(Self.checkpoint)
    }

    public func insert(_ checkpoint: Checkpoint) throws {
        try connection.execute(
            """
            INSERT INTO consult.checkpoints (tree_size, root, log_time, key_id, signature, origin)
            VALUES ($1, decode($2, 'hex'), to_timestamp($3::numeric / 1000000), $4, decode($5, 'hex'), $6)
            """,
            [checkpoint.size, checkpoint.root.hex, checkpoint.logTimeMicroseconds, checkpoint.keyID, checkpoint.signature.hex, checkpoint.origin])
    }

    /// The event at `position` as the tree hashes it.
    public func event(at position: Int64) throws -> RecordedEvent? {
        var found: RecordedEvent?
        try connection.stream("SELECT \(RecordedEvent.leafColumns) FROM consult.events WHERE position = $1", [position]) {
            found = try RecordedEvent(leafRow: $0)
        }
        return found
    }

    /// A receipt for the event at `position`: the checkpoint `publishable(covering:policy:)` picks
    /// (the latest with the witnesses' quorum, else the latest), the inclusion proof in it, and for a
    /// C2SP checkpoint the same as a tlog-proof with its cosignatures. nil when no checkpoint covers it yet.
    public func receipt(position: Int64, policy: WitnessPolicy = .none) throws -> Receipt? {
        guard let checkpoint = try publishable(covering: position, policy: policy), let event = try event(at: position) else {
            return nil
        }
        var receipt = Receipt(
            event: event, leafHash: event.leafHash, checkpoint: checkpoint, inclusionProof: try inclusionProof(position: position, in: checkpoint))
        if let (note, count) = try cosignedNote(checkpoint, policy: policy) {
            receipt.tlogProof = receipt.tlogProofFile(note: note).serialized
            receipt.cosignatures = count
        }
        return receipt
    }
}

extension RecordedEvent {
    /// From a row selected with `RecordedEvent.leafColumns` (the leaf's fields only: no idempotency key).
    public init(leafRow row: StreamedRow) throws {
        guard let id = UUID(uuidString: try row.get(1, as: String.self)) else { throw TrustError("event_id is not a UUID") }
        self.init(
            position: try row.int64(0)!, eventID: id, stream: try row.get(2), version: try row.int64(3)!, type: try row.get(4),
            data: try row.get(5), metadata: try row.get(6), recordedAtMicroseconds: try row.int64(7)!,
            idempotencyKey: nil)
    }
}

extension Hash {
    /// Bytes from hex of any even length (signatures are 64 bytes).
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
