/// Text from a client, made fit for one log line: backslash, quote, and control, format and line
/// separator characters escaped (`\n`, `\u{1b}`, …), cut at `maxBytes` bytes of UTF-8 with `…`.
enum LogText {
    static func escaped(_ text: some StringProtocol, maxBytes: Int = 300) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let piece: String
            switch scalar {
            case "\\": piece = "\\\\"
            case "\"": piece = "\\\""
            case "\n": piece = "\\n"
            case "\r": piece = "\\r"
            case "\t": piece = "\\t"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    piece = "\\u{" + String(scalar.value, radix: 16) + "}"
                default:
                    piece = String(scalar)
                }
            }
            guard out.utf8.count + piece.utf8.count <= maxBytes else { return out + "…" }
            out += piece
        }
        return out
    }
}
