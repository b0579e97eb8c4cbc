import CLibPQ
import Foundation

/// One row of `COPY … TO STDOUT (FORMAT binary)`, read in place: each field's bytes in PostgreSQL's
/// binary form (integers big-endian, text as UTF-8, `uuid` as 16 bytes). Valid only inside the call
/// it is given to.
public struct BinaryCopyRow {
    /// Each field's bytes; nil for NULL.
    public let fields: [UnsafeRawBufferPointer?]

    /// The field's bytes; throws for NULL or a missing field.
    public func bytes(_ field: Int) throws -> UnsafeRawBufferPointer {
        guard field < fields.count, let bytes = fields[field] else {
            throw PostgresError(.decoding, message: "field \(field + 1) is NULL or missing", field: "\(field + 1)")
        }
        return bytes
    }

    /// A text field (any type the query cast to text), or nil for NULL.
    public func text(_ field: Int) -> String? {
        guard field < fields.count, let bytes = fields[field] else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A `timestamptz` field as the same `Date` its text form decodes to, or nil for NULL.
    public func date(_ field: Int) throws -> Date? {
        guard field < fields.count, fields[field] != nil else { return nil }
        return TimestampText.date(microsecondsSince2000: try int64(field))
    }

    /// A `bigint` (or `timestamptz`: microseconds since 2000-01-01) field.
    public func int64(_ field: Int) throws -> Int64 {
        let bytes = try bytes(field)
        guard bytes.count == 8 else {
            throw PostgresError(.decoding, message: "field \(field + 1): \(bytes.count) bytes, not an 8-byte integer", field: "\(field + 1)")
        }
        return bytes.reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }
}

/// Splits the byte stream of a binary COPY into rows (the format in PostgreSQL's COPY documentation:
/// a signature header, then per row a field count and length-prefixed fields, then a trailer of -1).
struct BinaryCopyParser {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    private var headerSeen = false
    private var fields: [UnsafeRawBufferPointer?] = []

    /// The row in `data` (one `PQgetCopyData` message), nil for the trailer.
    mutating func row(_ data: UnsafeRawBufferPointer) throws -> BinaryCopyRow? {
        var offset = 0
        func read(_ count: Int) throws -> UnsafeRawBufferPointer {
            guard count >= 0, data.count - offset >= count else {
                throw PostgresError(.decoding, message: "binary COPY row cut short at byte \(offset)")
            }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: data[offset..<offset + count])
        }
        func integer(_ count: Int) throws -> Int64 {
            try read(count).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
        if !headerSeen {
            // libpq hands the header over with the first row.
            guard try read(Self.signature.count).elementsEqual(Self.signature) else {
                throw PostgresError(.decoding, message: "not a binary COPY stream")
            }
            _ = try integer(4)  // flags: no OIDs are asked for
            _ = try read(Int(try integer(4)))  // header extension, skipped as the format says
            headerSeen = true
        }
        let count = Int16(truncatingIfNeeded: try integer(2))
        if count == -1 { return nil }
        fields.removeAll(keepingCapacity: true)
        for _ in 0..<max(0, Int(count)) {
            let length = Int32(truncatingIfNeeded: try integer(4))
            fields.append(length == -1 ? nil : try read(Int(length)))
        }
        return BinaryCopyRow(fields: fields)
    }
}
