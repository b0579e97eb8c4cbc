import ArgumentParser
import Foundation
import JSON
import LineProtocol

/// How `list` and `query` commands print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json
}

/// Rows with named columns, printed as an aligned table, CSV (RFC 4180) or a JSON array of objects.
struct Rows {
    let columns: [String]
    var rows: [[JSONValue]] = []

    init(columns: [String]) { self.columns = columns }

    mutating func append(_ row: [JSONValue]) { rows.append(row) }

    func render(_ format: OutputFormat) -> String {
        switch format {
        case .json:
            return JSONValue.array(rows.map { row in .object(Array(zip(columns, row))) }).serialized + "\n"
        case .csv:
            return ([columns.map(Self.csvField)] + rows.map { $0.map { Self.csvField(Self.plain($0)) } })
                .map { $0.joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
        case .table:
            let cells = [columns] + rows.map { $0.map(Self.plain) }
            let widths = columns.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
            return cells.enumerated().map { index, row in
                let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
                return index == 0 ? line + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") : line
            }.joined(separator: "\n") + "\n"
        }
    }

    /// A cell as text: strings bare, null empty, everything else as JSON.
    static func plain(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .null: return ""
        default: return value.serialized
        }
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A command that cannot go on, with the one line that says why (`oneLine` prints it).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
