import Foundation
import JSON
import Logging

/// One JSON object per line on stderr (`--log-format json`), for log shippers: time, level, label,
/// source, message and metadata as members. A line is written with one `write`, so lines from
/// different threads never interleave.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        let merged = metadata.merging(explicit ?? [:]) { $1 }
        var members: [(String, JSONValue)] = [
            ("time", .string(Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))),
            ("level", .string(level.rawValue)), ("label", .string(label)), ("source", .string(source)),
            ("message", .string(message.description)),
        ]
        for key in merged.keys.sorted() where !["time", "level", "label", "source", "message"].contains(key) {
            members.append((key, .string(merged[key]!.description)))
        }
        let text = Array((JSONValue.object(members).serialized + "\n").utf8)
        text.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }
}
