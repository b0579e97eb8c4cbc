import CLibPQ

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
