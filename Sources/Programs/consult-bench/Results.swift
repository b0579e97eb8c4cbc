import Domain
import Foundation
import JSON
import Participation

/// The results: the table printed at the end, the text file of the single-purpose runs and the JSON
/// of the whole benchmark (its names and shape are what `bench/results` and PERFORMANCE.md compare).
extension Bench {
    static func table(_ figures: [(String, Double, String)], ratios: [(String, Double)]) -> String {
        let width = figures.map(\.0.count).max() ?? 10
        var lines = ["figure".padding(toLength: width, withPad: " ", startingAt: 0) + "  value"]
        for (name, value, unit) in figures {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(ConsultationMetrics.format(value)) \(unit)")
        }
        for (name, value) in ratios {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(ConsultationMetrics.format(value))")
        }
        return lines.joined(separator: "\n")
    }

    /// The table as text, with what was measured and where, in `<folder>/<date>-<name>.txt`.
    static func writeText(
        _ table: String, commit: String, folder: String, name: String, sizes: String,
        what: String = "one consultd serving plain TCP and TLS on two ports"
    ) throws {
        let date = String(Timestamps.format(Date()).prefix(10))
        // What else ran on the machine shows in its load; the figures mean little without it.
        let load = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        let header = """
            consult-bench \(sizes.hasPrefix("--witness-only") ? "" : "--tls-only ")\(sizes)
            date \(date), commit \(commit), \(ProcessInfo.processInfo.activeProcessorCount) cores shared by the clients, consultd and
            PostgreSQL (fsync=on, synchronous_commit=on); \(what);
            load average at the end: \(load.joined(separator: " ")).

            """
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(date)-\(name).txt"
        try Data((header + table + "\n").utf8).write(to: URL(fileURLWithPath: path))
        FileHandle.standardError.write(Data("bench: wrote \(path)\n".utf8))
    }

    static func write(_ figures: [(String, Double, String)], ratios: [(String, Double)], notes: [String] = [], commit: String, folder: String) throws {
        let date = String(Timestamps.format(Date()).prefix(10))
        let json = JSONValue.object([
            ("date", .string(date)), ("commit", .string(commit)), ("cores", .number(String(ProcessInfo.processInfo.activeProcessorCount))),
            ("durability", .string("fsync=on, synchronous_commit=on")),
            ("figures", .object(figures.map { ($0.0, .object([("value", .number(ConsultationMetrics.format($0.1))), ("unit", .string($0.2))])) })),
            ("ratios", .object(ratios.map { ($0.0, .number(ConsultationMetrics.format($0.1))) })),
        ] + (notes.isEmpty ? [] : [("notes", .array(notes.map { .string($0) }))]))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(date)-\(commit).json"
        try Data((json.serialized + "\n").utf8).write(to: URL(fileURLWithPath: path))
        FileHandle.standardError.write(Data("bench: wrote \(path)\n".utf8))
    }
}
