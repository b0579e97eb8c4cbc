import Foundation
import JSON

// The log's rows as values: what is appended, what is read back, and the answers of an append. Pure:
// the EventLog module stores and reads them through PostgreSQL, the Domain module turns them into
// typed events, and the fold reads them, without either of the latter touching I/O.

/// What an append states about the stream's current version (optimistic concurrency).
public enum ExpectedVersion: Equatable, Sendable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have this version.
    case exactly(Int64)

    public var description: String {
        switch self {
        case .any: return "any version"
        case .noStream: return "no stream yet"
        case .exactly(let version): return "version \(version)"
        }
    }
}

extension UUID {
    /// A version 7 UUID (RFC 9562 §5.7): the Unix time in milliseconds in the first 48 bits, then
    /// 74 random bits. Ids made one after another sort together, so the unique indexes on event ids
    /// grow at their right edge: a random (version 4) id touched a random leaf page per insert, and
    /// after every checkpoint each such page's first change wrote all 8 kB of it to the WAL.
    public static func timeOrdered(at time: Date = Date()) -> UUID {
        var random = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, time.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let high = random.next() as UInt64
        let low = random.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * index)) }
        for index in 6..<16 { bytes[index] = UInt8(truncatingIfNeeded: (index < 14 ? high : low) >> (8 * (index % 8))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // variant 10
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// An event to append.
public struct NewEvent: Sendable {
    public var eventID: UUID
    /// `category-id`, e.g. `consultation-c42`.
    public var stream: String
    public var type: String
    /// A JSON object.
    public var data: JSONText
    /// A JSON object: who, from where, protocol, correlation.
    public var metadata: JSONText
    public var expectedVersion: ExpectedVersion
    /// When set, a second append with the same key stores nothing (and is a conflict if its content differs).
    public var idempotencyKey: String?

    public init(
        eventID: UUID = .timeOrdered(), stream: String, type: String, data: JSONText,
        metadata: JSONText = JSONText("{}"), expectedVersion: ExpectedVersion = .any, idempotencyKey: String? = nil
    ) {
        self.eventID = eventID
        self.stream = stream
        self.type = type
        self.data = data
        self.metadata = metadata
        self.expectedVersion = expectedVersion
        self.idempotencyKey = idempotencyKey
    }
}

/// An event as stored in the log.
public struct RecordedEvent: Equatable, Sendable {
    public let position: Int64
    public let eventID: UUID
    public let stream: String
    public let version: Int64
    public let type: String
    /// The jsonb text as the server prints it (keys sorted by length, then bytes).
    public let data: String
    public let metadata: String
    /// `recorded_at` as the log's readers decode it (the fold compares these).
    public let recordedAt: Date
    /// `recorded_at` exactly, as PostgreSQL keeps it: microseconds since 1970-01-01T00:00:00Z. The
    /// Merkle leaf hashes this, not `recordedAt`: a `Date` is a `Double`, which rounds back to the
    /// microsecond only for times before about 2100, and a leaf must be exact for any time stored.
    public let recordedAtMicroseconds: Int64
    /// nil when the event has none, and in an event the Merkle tree reads back (Trust: the leaf
    /// does not cover it).
    public let idempotencyKey: String?

    /// An event read as a `Date`; its microseconds are that time rounded (exact before about 2100).
    public init(
        position: Int64, eventID: UUID, stream: String, version: Int64, type: String, data: String, metadata: String,
        recordedAt: Date, idempotencyKey: String?
    ) {
        self.init(
            position: position, eventID: eventID, stream: stream, version: version, type: type, data: data, metadata: metadata,
            recordedAt: recordedAt, recordedAtMicroseconds: Self.microseconds(recordedAt), idempotencyKey: idempotencyKey)
    }

    /// Rounded, and held within Int64 rather than trapping (PostgreSQL's last years, past 294,000 AD, overflow it).
    private static func microseconds(_ date: Date) -> Int64 {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        return Int64(exactly: micros) ?? (micros < 0 ? .min : .max)
    }

    /// An event read with its exact time (the tree's reads, receipts); its `recordedAt` is the nearest `Date`.
    public init(
        position: Int64, eventID: UUID, stream: String, version: Int64, type: String, data: String, metadata: String,
        recordedAtMicroseconds: Int64, idempotencyKey: String?
    ) {
        self.init(
            position: position, eventID: eventID, stream: stream, version: version, type: type, data: data, metadata: metadata,
            recordedAt: Date(timeIntervalSince1970: Double(recordedAtMicroseconds) / 1_000_000),
            recordedAtMicroseconds: recordedAtMicroseconds, idempotencyKey: idempotencyKey)
    }

    private init(
        position: Int64, eventID: UUID, stream: String, version: Int64, type: String, data: String, metadata: String,
        recordedAt: Date, recordedAtMicroseconds: Int64, idempotencyKey: String?
    ) {
        self.position = position
        self.eventID = eventID
        self.stream = stream
        self.version = version
        self.type = type
        self.data = data
        self.metadata = metadata
        self.recordedAt = recordedAt
        self.recordedAtMicroseconds = recordedAtMicroseconds
        self.idempotencyKey = idempotencyKey
    }
}

/// The key one event's personal content is sealed under, itself sealed under its organisation's
/// data key (docs/PRIVACY.md). Kept outside the log, in `consult.content_keys`: deleting it erases.
public struct ContentKey: Equatable, Sendable {
    public let organisation: String
    public let consultation: String
    public let submissionKey: String
    /// The organisation data key that seals `wrapped`.
    public let organisationKey: UUID
    /// AES-GCM box of the event's key.
    public let wrapped: Data

    public init(organisation: String, consultation: String, submissionKey: String, organisationKey: UUID, wrapped: Data) {
        (self.organisation, self.consultation, self.submissionKey) = (organisation, consultation, submissionKey)
        (self.organisationKey, self.wrapped) = (organisationKey, wrapped)
    }
}

/// Where an appended event landed.
public struct Appended: Equatable, Sendable {
    public let position: Int64
    public let version: Int64
    /// True when the idempotency key was already used for the same content: nothing new was stored
    /// and `position` is the original one.
    public let duplicate: Bool

    public init(position: Int64, version: Int64, duplicate: Bool) { (self.position, self.version, self.duplicate) = (position, version, duplicate) }
}

/// An append the log refused; nothing was stored.
public enum AppendError: Error, Equatable, CustomStringConvertible {
    /// The stream's version was not the one expected.
    case versionConflict(stream: String, expected: ExpectedVersion, actual: Int64)
    /// The idempotency key is taken by an event with different content (stored at `position`).
    case idempotencyConflict(key: String, position: Int64)

    public var description: String {
        switch self {
        case .versionConflict(let stream, let expected, let actual):
            return "stream \(stream) is at version \(actual), not \(expected)"
        case .idempotencyConflict(let key, let position):
            return "idempotency key \(key) already names different content (position \(position))"
        }
    }
}
