/// One request, read whole.
public struct HTTPRequest: Equatable, Sendable {
    public var method: String
    public var path: String
    public var body: [UInt8]
    /// Whether the client asked to keep the connection open after the answer.
    public var keepAlive: Bool

    public init(method: String, path: String, body: [UInt8] = [], keepAlive: Bool = false) {
        self.method = method
        self.path = path
        self.body = body
        self.keepAlive = keepAlive
    }
}

/// The bytes a client sent, turned into requests one at a time (pipelined ones wait their turn),
/// with every bound of `HTTPRequestRules` applied before more is buffered. Pure: the connection
/// appends what it reads and does what `next()` says.
public struct HTTPRequestReader: Sendable {
    /// What the connection does next.
    public enum Step: Equatable, Sendable {
        /// Read more and `append` it.
        case needMore
        /// Write `100 Continue`: the client waits for it before it sends the body.
        case sendContinue
        case request(HTTPRequest)
        /// Answer with this status and reason and close: the request cannot be served.
        case refused(status: Int, reason: String)
    }

    public let rules: HTTPRequestRules
    private var buffer: [UInt8] = []
    private var head: HTTPRequestHead?
    /// Where the search for the head's end resumes: each byte is looked at about once, however
    /// slowly the head trickles in.
    private var scanned = 0
    private var continueSent = false

    public init(rules: HTTPRequestRules) {
        self.rules = rules
    }

    /// Bytes read but not yet part of a request handed out.
    public var buffered: Int { buffer.count }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    public mutating func next() -> Step {
        if head == nil {
            switch HTTPRequestHead.parse(buffer, rules: rules, searchFrom: scanned) {
            case .incomplete:
                scanned = HTTPRequestHead.resumePoint(afterScanning: buffer.count)
                if let maxHeadBytes = rules.maxHeadBytes, buffer.count > maxHeadBytes {
                    return .refused(status: 431, reason: "request head over \(maxHeadBytes) bytes")
                }
                if buffer.count > rules.maxBytes {
                    return .refused(status: 413, reason: "request head over \(rules.maxBytes) bytes")
                }
                return .needMore
            case .invalid(let status, let reason):
                return .refused(status: status, reason: reason)
            case .complete(let parsed):
                head = parsed
            }
        }
        guard let head else { return .needMore }
        let total = head.headLength + head.contentLength
        guard buffer.count >= total else {
            if head.expectsContinue && !continueSent {
                continueSent = true
                return .sendContinue
            }
            return .needMore
        }
        let request = HTTPRequest(method: head.method, path: head.path, body: Array(buffer[head.headLength..<total]), keepAlive: head.keepAlive)
        buffer.removeFirst(total)
        self.head = nil
        scanned = 0
        continueSent = false
        return .request(request)
    }
}
