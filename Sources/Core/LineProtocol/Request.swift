import JSON

/// The error codes of protocol v1 (SPEC.md).
public enum ErrorCode: String, Sendable, CaseIterable {
    case `protocol` = "PROTOCOL"
    case tooLong = "TOO_LONG"
    case encoding = "ENCODING"
    case noAuth = "NOAUTH"
    case auth = "AUTH"
    case invalid = "INVALID"
    case notFound = "NOT_FOUND"
    case closed = "CLOSED"
    case conflict = "CONFLICT"
    case busy = "BUSY"
    case timeout = "TIMEOUT"
    case `internal` = "INTERNAL"
}

/// One reply line.
public enum Reply: Equatable, Sendable {
    case ok(String)
    case error(ErrorCode, String)

    /// The line as sent, newline included. Messages are kept to one line whatever they contain.
    public var line: String {
        switch self {
        case .ok(let text): return "OK \(text)\n"
        case .error(let code, let message):
            let oneLine = String(message.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
            return "ERR \(code.rawValue) \(oneLine)\n"
        }
    }

    /// Parses a reply line (without its newline); for clients.
    public init?(line: Substring) {
        if line == "OK" || line.hasPrefix("OK ") {
            self = .ok(String(line.dropFirst(3)))
        } else if line.hasPrefix("ERR ") {
            let rest = line.dropFirst(4)
            let code = rest.prefix { $0 != " " }
            guard let known = ErrorCode(rawValue: String(code)) else { return nil }
            self = .error(known, String(rest.dropFirst(code.count + 1)))
        } else {
            return nil
        }
    }
}

/// A request of protocol v1, parsed from one line.
public enum Request: Equatable, Sendable {
    /// `token` is nil when the client relies on its TLS client certificate instead (docs/PROTOCOL.md).
    case auth(organisation: String, token: String?)
    case consultations
    case submit(consultation: String, key: String, body: JSONValue)
    case withdraw(consultation: String, key: String, reason: String?)
    case status(consultation: String, key: String)
    case receipt(consultation: String, key: String)
    case ping
    case quit

    /// True for the requests that append to the log.
    public var writesState: Bool {
        switch self {
        case .submit, .withdraw: return true
        case .auth, .consultations, .status, .receipt, .ping, .quit: return false
        }
    }

    /// True for the requests that read state a write of the same connection may have changed.
    public var readsState: Bool {
        switch self {
        case .status, .consultations, .receipt: return true
        case .auth, .submit, .withdraw, .ping, .quit: return false
        }
    }

    /// The verbs of protocol v1.
    public enum Verb: String, Sendable, CaseIterable {
        case auth = "AUTH", consultations = "CONSULTATIONS", submit = "SUBMIT", withdraw = "WITHDRAW"
        case status = "STATUS", receipt = "RECEIPT", ping = "PING", quit = "QUIT"

        /// The verbs allowed before AUTH: nothing else is even parsed for an unauthenticated client.
        public var allowedBeforeAuth: Bool {
            switch self {
            case .auth, .ping, .quit: return true
            case .consultations, .submit, .withdraw, .status, .receipt: return false
            }
        }

        /// The verb a line starts with, case folded in ASCII only (SPEC: verbs are case-insensitive;
        /// Unicode folding would let `pıng` or `ſTATUS` through). nil for an empty or unknown verb.
        public static func of(_ line: [UInt8]) -> Verb? {
            var word: [UInt8] = []
            for byte in line {
                if byte == UInt8(ascii: " ") {
                    if word.isEmpty { continue }
                    break
                }
                // Only ASCII letters can make a verb; anything else (or a very long word) is no verb.
                guard word.count < 16, (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) else { return nil }
                word.append(byte & 0xDF)
            }
            return Verb(rawValue: String(decoding: word, as: UTF8.self))
        }
    }

    /// Parses one line for a client that is (or is not yet) authenticated. Before AUTH, a request
    /// other than AUTH, PING or QUIT is refused with `NOAUTH` from its verb alone: its arguments
    /// and JSON are never parsed, so an unauthenticated client cannot make the server do that work.
    public static func parse(_ line: [UInt8], authenticated: Bool, json: JSONParser = JSONParser()) -> Result<Request, RequestError> {
        if !authenticated, let verb = Verb.of(line), !verb.allowedBeforeAuth {
            return .failure(RequestError(.noAuth, "AUTH <organisation-id> <token> first"))
        }
        return parse(line, json: json)
    }

    /// Parses one line (without its newline). The error says which code to answer with.
    public static func parse(_ line: [UInt8], json: JSONParser = JSONParser()) -> Result<Request, RequestError> {
        guard let text = String(validating: line, as: UTF8.self) else {
            return .failure(RequestError(.encoding, "request is not valid UTF-8"))
        }
        var scanner = Scanner(text: Substring(text))
        guard let word = scanner.word(), !word.isEmpty else {
            return .failure(RequestError(.protocol, "empty request"))
        }
        guard let verb = Verb.of(Array(word.utf8)) else {
            return .failure(RequestError(.protocol, "unknown verb \(word.prefix(32))"))
        }
        func args(_ count: Int, usage: String) -> Result<[String], RequestError> {
            var values: [String] = []
            for _ in 0..<count {
                guard let word = scanner.word() else {
                    return .failure(RequestError(.protocol, "usage: \(usage)"))
                }
                guard isToken(word) else {
                    return .failure(RequestError(.protocol, "arguments are 1 to 128 of A-Z a-z 0-9 . _ : - (usage: \(usage))"))
                }
                values.append(String(word))
            }
            return .success(values)
        }
        func noMore(_ usage: String) -> RequestError? {
            scanner.rest.isEmpty ? nil : RequestError(.protocol, "unexpected text after the arguments (usage: \(usage))")
        }
        func body(_ usage: String, required: Bool) -> Result<JSONValue?, RequestError> {
            let rest = scanner.rest
            if rest.isEmpty {
                return required ? .failure(RequestError(.protocol, "usage: \(usage)")) : .success(nil)
            }
            do {
                let value = try json.parse(String(rest))  // the line was validated as UTF-8 above
                guard case .object = value else { return .failure(RequestError(.invalid, "body: must be a JSON object")) }
                return .success(value)
            } catch let error as JSONError {
                return .failure(RequestError(.invalid, "body: \(error)"))
            } catch {
                return .failure(RequestError(.invalid, "body: not JSON"))
            }
        }

        switch verb {
        case .auth:
            let usage = "AUTH <organisation-id> [<token>]"
            return args(1, usage: usage).flatMap { values in
                // Without a token the organisation is vouched for by the connection's client certificate.
                if scanner.rest.isEmpty { return .success(.auth(organisation: values[0], token: nil)) }
                return args(1, usage: usage).flatMap { token in
                    noMore(usage).map { .failure($0) } ?? .success(.auth(organisation: values[0], token: token[0]))
                }
            }
        case .consultations:
            return noMore("CONSULTATIONS").map { .failure($0) } ?? .success(.consultations)
        case .ping:
            return noMore("PING").map { .failure($0) } ?? .success(.ping)
        case .quit:
            return noMore("QUIT").map { .failure($0) } ?? .success(.quit)
        case .status:
            let usage = "STATUS <consultation-id> <submission-key>"
            return args(2, usage: usage).flatMap { values in
                noMore(usage).map { .failure($0) } ?? .success(.status(consultation: values[0], key: values[1]))
            }
        case .receipt:
            let usage = "RECEIPT <consultation-id> <submission-key>"
            return args(2, usage: usage).flatMap { values in
                noMore(usage).map { .failure($0) } ?? .success(.receipt(consultation: values[0], key: values[1]))
            }
        case .submit:
            let usage = "SUBMIT <consultation-id> <submission-key> <json>"
            return args(2, usage: usage).flatMap { values in
                body(usage, required: true).map { .submit(consultation: values[0], key: values[1], body: $0!) }
            }
        case .withdraw:
            let usage = #"WITHDRAW <consultation-id> <submission-key> [{"reason": "..."}]"#
            return args(2, usage: usage).flatMap { values in
                body(usage, required: false).flatMap { value -> Result<Request, RequestError> in
                    guard let value else { return .success(.withdraw(consultation: values[0], key: values[1], reason: nil)) }
                    guard case .object(let members) = value, members.allSatisfy({ $0.0 == "reason" }) else {
                        return .failure(RequestError(.invalid, "body: only \"reason\" is allowed"))
                    }
                    switch value["reason"] {
                    case nil, .null?:
                        return .success(.withdraw(consultation: values[0], key: values[1], reason: nil))
                    case .string(let reason)? where reason.unicodeScalars.count <= 2_000:
                        return .success(.withdraw(consultation: values[0], key: values[1], reason: reason))
                    default:
                        return .failure(RequestError(.invalid, "reason: must be a string of at most 2000 characters"))
                    }
                }
            }
        }
    }

    /// `[A-Za-z0-9._:-]{1,128}`
    public static func isToken<S: StringProtocol>(_ word: S) -> Bool {
        guard (1...128).contains(word.utf8.count) else { return false }
        return word.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                || byte == UInt8(ascii: "-")
        }
    }

    /// Splits on single spaces; the rest of the line stays whole for a JSON body.
    private struct Scanner {
        var text: Substring

        mutating func word() -> Substring? {
            text = text.drop { $0 == " " }
            guard !text.isEmpty else { return nil }
            let word = text.prefix { $0 != " " }
            text = text.dropFirst(word.count)
            return word
        }

        var rest: Substring { text.drop { $0 == " " } }
    }
}

/// A request that cannot be served, with the code and message to answer.
public struct RequestError: Error, Equatable, Sendable {
    public let code: ErrorCode
    public let message: String
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
    public var reply: Reply { .error(code, message) }
}
