import Foundation
import Merkle

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
        var bytes: [UInt8] = Array("consultd-leaf-v1".utf8) + [0]
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

    /// The columns to select for a `LeafEvent`, in `init(row:)`'s order (an exact epoch in microseconds).
    public static let columns = """
        position, event_id::text, stream, version, type, data::text, metadata::text,
        (extract(epoch FROM recorded_at) * 1000000)::bigint
        """
}
