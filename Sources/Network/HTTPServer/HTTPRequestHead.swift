import Foundation

/// What a server accepts of a request, checked while its head is parsed: pure values, so that the
/// parser can be tested without a socket.
public struct HTTPRequestRules: Equatable, Sendable {
    /// The whole request, head and body: more is 413.
    public var maxBytes: Int
    /// The head alone, when it has a bound of its own: more is 431. Nil: only `maxBytes`.
    public var maxHeadBytes: Int?
    /// The methods served; any other is 405 before its headers are looked at. Nil: every method
    /// reaches the handler.
    public var methods: Set<String>?

    public init(maxBytes: Int, maxHeadBytes: Int? = nil, methods: Set<String>? = nil) {
        self.maxBytes = maxBytes
        self.maxHeadBytes = maxHeadBytes
        self.methods = methods
    }
}

/// A request's head, parsed strictly: an HTTP/1.0 or 1.1 request line with single spaces and an
/// absolute path, headers with colons, UTF-8; bodies by Content-Length only (no chunked bodies).
public struct HTTPRequestHead: Equatable, Sendable {
    public var method: String
    /// The path without its query string (which plays no part in routing).
    public var path: String
    public var contentLength: Int
    public var keepAlive: Bool
    /// Bytes of the head, through its blank line.
    public var headLength: Int
    /// The client waits for `100 Continue` before it sends the body (curl does, over 1 KiB).
    public var expectsContinue = false

    public init(method: String, path: String, contentLength: Int, keepAlive: Bool, headLength: Int, expectsContinue: Bool = false) {
        self.method = method
        self.path = path
        self.contentLength = contentLength
        self.keepAlive = keepAlive
        self.headLength = headLength
        self.expectsContinue = expectsContinue
    }

    /// What the bytes so far come to.
    public enum Parse: Equatable, Sendable {
        case incomplete
        case invalid(status: Int, reason: String)
        case complete(HTTPRequestHead)
    }

    /// Where a search that found no end in `count` bytes resumes: an end (LF LF or LF CR LF) may
    /// start at either of the last two bytes, which the search could not yet decide.
    public static func resumePoint(afterScanning count: Int) -> Int { max(0, count - 2) }

    /// `parse(_:rules:searchFrom:)` with a bound on the whole request only.
    public static func parse(_ bytes: [UInt8], maxBytes: Int, searchFrom: Int = 0) -> Parse {
        parse(bytes, rules: HTTPRequestRules(maxBytes: maxBytes), searchFrom: searchFrom)
    }

    /// Parses the head at the start of `bytes`; the search for its end starts at `searchFrom` (a
    /// `resumePoint` of an earlier search of the same bytes, 0 for none). An unfinished head is
    /// `.incomplete` whatever its length: the caller bounds what it buffers (`HTTPRequestReader`).
    public static func parse(_ bytes: [UInt8], rules: HTTPRequestRules, searchFrom: Int = 0) -> Parse {
        // The head ends at CRLF CRLF (or LF LF from lenient clients).
        var end: Int?
        var index = searchFrom
        while index + 1 < bytes.count {
            if bytes[index] == 0x0A {
                if bytes[index + 1] == 0x0A { end = index + 2; break }
                if bytes[index + 1] == 0x0D, index + 2 < bytes.count, bytes[index + 2] == 0x0A { end = index + 3; break }
            }
            index += 1
        }
        guard let end else { return .incomplete }
        if let maxHeadBytes = rules.maxHeadBytes, end > maxHeadBytes {
            return .invalid(status: 431, reason: "request head over \(maxHeadBytes) bytes")
        }
        guard let text = String(validating: bytes[..<end], as: UTF8.self) else { return .invalid(status: 400, reason: "the request head is not UTF-8") }
        // Split on the LF byte ("\r\n" is one Character, so split the scalars), then drop each CR.
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            Substring(String(line.last == "\r" ? line.dropLast() : line))
        }
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2] == "HTTP/1.1" || requestLine[2] == "HTTP/1.0", requestLine[1].hasPrefix("/") else {
            return .invalid(status: 400, reason: "not an HTTP/1.x request line")
        }
        let method = String(requestLine[0])
        if let methods = rules.methods, !methods.contains(method) {
            return .invalid(status: 405, reason: "only " + methods.sorted().joined(separator: " and "))
        }
        var contentLength: Int?
        var keepAlive = requestLine[2] == "HTTP/1.1"
        var expectsContinue = false
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid(status: 400, reason: "a header line without a colon") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-length":
                guard !value.isEmpty, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }), value.utf8.count <= 9, let length = Int(value) else {
                    return .invalid(status: 400, reason: "a Content-Length that is not a decimal")
                }
                if let contentLength, contentLength != length { return .invalid(status: 400, reason: "two different Content-Lengths") }
                contentLength = length
            case "transfer-encoding":
                return .invalid(status: 411, reason: "chunked bodies are not accepted: send a Content-Length")
            case "expect":
                guard value.lowercased() == "100-continue" else { return .invalid(status: 417, reason: "only Expect: 100-continue is understood") }
                expectsContinue = requestLine[2] == "HTTP/1.1"
            case "connection":
                let tokens = value.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                if tokens.contains("close") { keepAlive = false }
                if tokens.contains("keep-alive") { keepAlive = true }
            default:
                break
            }
        }
        let length = contentLength ?? 0
        guard end + length <= rules.maxBytes else { return .invalid(status: 413, reason: "request over \(rules.maxBytes) bytes") }
        if method == "POST" && contentLength == nil { return .invalid(status: 411, reason: "a POST needs a Content-Length") }
        let path = String(requestLine[1].prefix { $0 != "?" })
        return .complete(HTTPRequestHead(method: method, path: path, contentLength: length, keepAlive: keepAlive, headLength: end,
                                         expectsContinue: expectsContinue && length > 0))
    }
}
