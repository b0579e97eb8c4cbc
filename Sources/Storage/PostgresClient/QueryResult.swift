import CLibPQ
import Foundation

/// The rows of one statement, copied out of libpq's `PGresult` (which is freed at once).
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [Row]
    /// Rows inserted, updated or deleted, from the command tag (0 when it has none).
    public let affectedRows: Int

    /// Copies `result` into Swift storage. The caller still owns `result` and must clear it.
    init(copying result: OpaquePointer) {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        let layout = Row.Layout(names: names, index: index)
        var rows: [Row] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(Row(layout: layout, values: values))
        }
        self.columns = names
        self.rows = rows
        self.affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// The only row, or nil when there is none.
    public var first: Row? { rows.first }
}

/// One result row; columns are read by name and decoded into the Swift type asked for.
public struct Row: Sendable {
    final class Layout: Sendable {
        let names: [String]
        let index: [String: Int]
        init(names: [String], index: [String: Int]) {
            self.names = names
            self.index = index
        }
    }

    let layout: Layout
    /// Each column's value in PostgreSQL's text format; nil for SQL NULL.
    public let values: [String?]

    /// The value of `column`, or nil for SQL NULL. Throws if the column is missing or does not decode.
    public func optional<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let position = layout.index[column] else {
            throw PostgresError(.decoding, message: "no column named \(column) in the result", field: column)
        }
        guard let text = values[position] else { return nil }
        guard let value = T(postgresText: text) else {
            throw PostgresError(
                .decoding, message: "column \(column): cannot read \(text.prefix(40)) as \(T.self)", field: column)
        }
        return value
    }

    /// The value of `column`; throws for SQL NULL.
    public func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try optional(column, as: T.self) else {
            throw PostgresError(.decoding, message: "column \(column) is NULL", field: column)
        }
        return value
    }
}

/// One row of `Connection.stream`, read in place from libpq's result (columns by index, in the
/// order of the SELECT list). Valid only inside the call it is given to.
public struct StreamedRow {
    let result: OpaquePointer

    public func isNull(_ column: Int) -> Bool { PQgetisnull(result, 0, Int32(column)) == 1 }

    /// The column's text, or nil for SQL NULL.
    public func string(_ column: Int) -> String? {
        isNull(column) ? nil : String(cString: PQgetvalue(result, 0, Int32(column)))
    }

    /// A `timestamptz` column, read in place (the same decoding as `Date(postgresText:)`); nil for NULL.
    public func date(_ column: Int) throws -> Date? {
        guard let bytes = bytes(column) else { return nil }
        guard let date = TimestampText.parse(bytes) else {
            throw PostgresError(.decoding, message: "column \(column + 1): not a timestamp", field: "\(column + 1)")
        }
        return date
    }

    /// An integer column, read in place; nil for NULL.
    public func int64(_ column: Int) throws -> Int64? {
        guard let bytes = bytes(column) else { return nil }
        var value: Int64 = 0
        var negative = false
        for (offset, byte) in bytes.enumerated() {
            if offset == 0 && byte == UInt8(ascii: "-") && bytes.count > 1 {
                negative = true
            } else if byte >= 48 && byte <= 57, value <= (Int64.max - 9) / 10 {
                value = value * 10 + Int64(byte - 48)
            } else {
                throw PostgresError(.decoding, message: "column \(column + 1): not an integer", field: "\(column + 1)")
            }
        }
        guard !bytes.isEmpty else { throw PostgresError(.decoding, message: "column \(column + 1): empty", field: "\(column + 1)") }
        return negative ? -value : value
    }

    /// The column's bytes in place (its text form), or nil for NULL: valid only during the call the
    /// row is given to, and never copied (for hashing or parsing a large read without allocating).
    public func bytes(_ column: Int) -> UnsafeBufferPointer<UInt8>? {
        guard !isNull(column), let value = PQgetvalue(result, 0, Int32(column)) else { return nil }
        return UnsafeBufferPointer(
            start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: Int(PQgetlength(result, 0, Int32(column))))
    }

    /// The column decoded as `T` from its text; throws for NULL or text that does not decode.
    public func get<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard let text = string(column) else {
            throw PostgresError(.decoding, message: "column \(column + 1) is NULL", field: "\(column + 1)")
        }
        guard let value = T(postgresText: text) else {
            throw PostgresError(.decoding, message: "column \(column + 1): cannot read \(text.prefix(40)) as \(T.self)", field: "\(column + 1)")
        }
        return value
    }
}
