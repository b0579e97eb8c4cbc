import EventRecords
import Foundation
import Merkle
import PostgresClient

/// The tree's view of an event: exactly the fields a reader of the log can read back, in the form
/// docs/TRUST.md fixes, so that anyone can recompute its leaf hash. Its time is the exact
/// `recordedAtMicroseconds` (never `recordedAt`, a `Double`); `idempotencyKey` is not covered, and
/// is nil in an event the tree reads back (`init(leafRow:)`, `init?(leafInput:)`, a receipt).
extension RecordedEvent {
    /// The leaf's input (docs/TRUST.md, "Leaves"): a tag, then each field in order, integers
    /// big-endian, texts as UTF-8 prefixed with their byte length, so no two events share an input.
    public var leafInput: [UInt8] {
        var bytes = Self.leafTag
        func integer(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        func text(_ value: String) {
            let utf8 = Array(value.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        integer(position)
        withUnsafeBytes(of: eventID.uuid) { bytes.append(contentsOf: $0) }
        text(stream)
        integer(version)
        text(type)
        text(data)
        text(metadata)
        integer(recordedAtMicroseconds)
        return bytes
    }

    /// RFC 9162's leaf hash of `leafInput`.
    public var leafHash: Hash { MerkleHash.leaf(leafInput) }

    static let leafTag: [UInt8] = Array("consultd-leaf-v1".utf8) + [0]

    /// The columns to select for `init(leafRow:)`, in its order: the leaf's fields, the time as an
    /// exact epoch in microseconds.
    public static let leafColumns = """
        position, event_id::text, stream, version, type, data::text, metadata::text,
        (extract(epoch FROM recorded_at) * 1000000)::bigint
        """
}

/// An event as `COPY (SELECT \(LeafRow.columns) …) TO STDOUT (FORMAT binary)` gives it, read in
/// place: the verifier and the notary hash the whole log this way, with no text formatting of
/// integers, UUIDs or times by the server and no copy here. Valid only inside the call it is given to.
public struct LeafRow {
    public let position: Int64
    /// The UUID's 16 bytes.
    public let eventID: UnsafeRawBufferPointer
    public let stream: UnsafeRawBufferPointer
    public let version: Int64
    public let type: UnsafeRawBufferPointer
    /// jsonb as PostgreSQL prints it (`data::text`): binary jsonb is a version byte, then that text.
    public let data: UnsafeRawBufferPointer
    public let metadata: UnsafeRawBufferPointer
    public let recordedAtMicroseconds: Int64

    /// The columns to copy, in this order.
    public static let columns = "position, event_id, stream, version, type, data, metadata, recorded_at"

    /// PostgreSQL's binary times count microseconds from 2000-01-01; the leaf counts from 1970-01-01.
    static let epochOffsetMicroseconds: Int64 = 946_684_800_000_000

    public init(_ row: BinaryCopyRow) throws {
        func jsonb(_ field: Int) throws -> UnsafeRawBufferPointer {
            let bytes = try row.bytes(field)
            guard bytes.first == 1 else { throw TrustError("field \(field + 1) is not jsonb of version 1") }
            return UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        }
        position = try row.int64(0)
        eventID = try row.bytes(1)
        guard eventID.count == 16 else { throw TrustError("event_id is not a UUID") }
        stream = try row.bytes(2)
        version = try row.int64(3)
        type = try row.bytes(4)
        data = try jsonb(5)
        metadata = try jsonb(6)
        recordedAtMicroseconds = try row.int64(7) + Self.epochOffsetMicroseconds
    }

    /// The leaf hash: the same bytes as `RecordedEvent.leafInput`, hashed without building them.
    public var leafHash: Hash {
        var hasher = LeafHasher()
        func integer(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { hasher.update($0) } }
        func text(_ bytes: UnsafeRawBufferPointer) {
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update($0) }
            hasher.update(bytes)
        }
        RecordedEvent.leafTag.withUnsafeBytes { hasher.update($0) }
        integer(position)
        hasher.update(eventID)
        text(stream)
        integer(version)
        text(type)
        text(data)
        text(metadata)
        integer(recordedAtMicroseconds)
        return hasher.finalize()
    }

    /// Copies `columns` of the events in `first...last` (bounds are integers of ours: COPY takes no
    /// parameters), in position order, to `body`; returns the number of rows.
    @discardableResult
    public static func copy(_ connection: Connection, from first: Int64, through last: Int64, limit: Int? = nil, _ body: (LeafRow) throws -> Void) throws -> Int {
        try connection.copyOut(
            """
            COPY (SELECT \(columns) FROM consult.events WHERE position BETWEEN \(first) AND \(last) ORDER BY position\(limit.map { " LIMIT \($0)" } ?? ""))
              TO STDOUT (FORMAT binary)
            """
        ) { try body(LeafRow($0)) }
    }
}


extension RecordedEvent {
    /// Parses a leaf input (docs/TRUST.md, "Leaves"); nil when it is not one. Its `idempotencyKey`
    /// is nil: the leaf does not cover it.
    public init?(leafInput bytes: [UInt8]) {
        var offset = 0
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }
        func integer() -> Int64? { take(8).map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }.map { Int64(bitPattern: $0) } }
        func text() -> String? {
            guard let length = take(4).map({ $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }), let utf8 = take(Int(length)) else { return nil }
            return String(validating: Array(utf8), as: UTF8.self)
        }
        guard take(Self.leafTag.count).map(Array.init) == Self.leafTag, let position = integer(), let id = take(16) else { return nil }
        let u = Array(id)
        let uuid = UUID(uuid: (u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]))
        guard let stream = text(), let version = integer(), let type = text(), let data = text(), let metadata = text(),
              let time = integer(), offset == bytes.count
        else { return nil }
        self.init(
            position: position, eventID: uuid, stream: stream, version: version, type: type, data: data, metadata: metadata,
            recordedAtMicroseconds: time, idempotencyKey: nil)
    }
}
