import Foundation
import Merkle
import PostgresClient

/// An event as the tree sees it: exactly the fields a reader of the log can read back, in the form
/// docs/TRUST.md fixes, so that anyone can recompute its leaf hash.
public struct LeafEvent: Equatable, Sendable {
    public let position: Int64
    public let eventID: UUID
    public let stream: String
    public let version: Int64
    public let type: String
    /// `data::text` and `metadata::text`: jsonb as PostgreSQL prints it.
    public let data: String
    public let metadata: String
    /// `recorded_at` in microseconds since 1970-01-01T00:00:00Z (PostgreSQL keeps microseconds).
    public let recordedAtMicroseconds: Int64

    public init(
        position: Int64, eventID: UUID, stream: String, version: Int64, type: String, data: String, metadata: String,
        recordedAtMicroseconds: Int64
    ) {
        self.position = position
        self.eventID = eventID
        self.stream = stream
        self.version = version
        self.type = type
        self.data = data
        self.metadata = metadata
        self.recordedAtMicroseconds = recordedAtMicroseconds
    }

    /// The leaf's input (docs/TRUST.md, "Leaves"): a tag, then each field in order, integers
    /// big-endian, texts as UTF-8 prefixed with their byte length, so no two events share an input.
    public var leafInput: [UInt8] {
        var bytes = Self.tag
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

    /// The leaf hash of a row selected with `columns`, computed from the row's bytes in place: the same
    /// bytes as `leafInput` without building it (the verifier hashes a million events this way).
    public static func leafHash(row: StreamedRow) throws -> Hash {
        var hasher = LeafHasher()
        func integer(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { hasher.update($0) } }
        func text(_ column: Int) throws {
            guard let bytes = row.bytes(column) else { throw TrustError("column \(column + 1) is NULL") }
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update($0) }
            hasher.update(UnsafeRawBufferPointer(bytes))
        }
        Self.tag.withUnsafeBytes { hasher.update($0) }
        integer(try row.int64(0)!)
        guard let id = row.bytes(1), let uuid = Self.uuidBytes(id) else { throw TrustError("event_id is not a UUID") }
        uuid.withUnsafeBytes { hasher.update($0) }
        try text(2)
        integer(try row.int64(3)!)
        try text(4)
        try text(5)
        try text(6)
        integer(try row.int64(7)!)
        return hasher.finalize()
    }

    static let tag: [UInt8] = Array("consultd-leaf-v1".utf8) + [0]

    /// The 16 bytes of a UUID's text (8-4-4-4-12 hex digits).
    static func uuidBytes(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count == 36 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var high: UInt8?
        for (offset, character) in text.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            let digit: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        return bytes
    }

    /// The columns to select for a `LeafEvent`, in `init(row:)`'s order (an exact epoch in microseconds).
    public static let columns = """
        position, event_id::text, stream, version, type, data::text, metadata::text,
        (extract(epoch FROM recorded_at) * 1000000)::bigint
        """
}
