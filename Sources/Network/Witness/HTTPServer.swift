import Dispatch
import Foundation
import Sockets
import TLS

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server for the witness, in the clear or over TLS: requests with a body
/// (Content-Length; no chunked bodies), keep-alive, and every resource a client can make it hold
/// bounded: `maxConnections` at once (more are closed at accept), `maxRequestBytes` per request
/// (head and body), and `requestTimeout` seconds for each request, from the wait for its first byte
/// to the last byte of the answer. Each connection is served on a thread of its own with blocking
/// waits (`poll`) on a non-blocking socket, so a slow client holds only its own thread.
///
/// `@unchecked Sendable`: `listener` and `active` are touched only on `queue`.
public final class WitnessHTTPServer: @unchecked Sendable {
    public struct Limits: Sendable {
        public var maxConnections = 64
        /// 256 KiB: a checkpoint note may carry many signatures (c2sp.org/signed-note has verifiers
        /// accept at least 16, and post-quantum signatures reach about 5 kB each).
        public var maxRequestBytes = 256 * 1024
        public var requestTimeout: Double = 10
        public var maxRequestsPerConnection = 1_000
        public init() {}
    }

    /// The answer to one request and one line about it for the log.
    public typealias Handler = @Sendable (_ method: String, _ path: String, _ body: [UInt8]) -> (response: WitnessResponse, summary: String)

    private let host: String
    private let port: UInt16
    private let tls: TLSContext?
    private let limits: Limits
    private let handler: Handler
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "consultd.witness.accept")
    private var listener: DispatchSourceRead?
    private var active = 0
    /// True while accepting is paused for want of descriptors (the source is suspended).
    private var paused = false

    public init(host: String, port: UInt16, tls: TLSContext? = nil, limits: Limits = Limits(),
                log: @escaping @Sendable (String) -> Void, handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.log = log
        self.handler = handler
    }

    /// Binds and serves; returns the bound port (useful with port 0).
    public func start() throws -> UInt16 {
        let (fd, bound) = try ListeningSocket.open(host: host, port: port, backlog: 128, for: "witness requests")
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in acceptAll(fd) }
        source.setCancelHandler { Glibc.close(fd) }
        queue.sync { listener = source }
        source.resume()
        return bound
    }

    public func stop() {
        queue.sync {
            listener?.cancel()
            if paused { listener?.resume() }  // a suspended source never finishes its cancellation
            paused = false
            listener = nil
        }
    }

    private func acceptAll(_ listenFD: Int32) {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    // Out of descriptors: the pending connection waits in the backlog; back off briefly.
                    if let listener, !paused {
                        listener.suspend()
                        paused = true
                        queue.asyncAfter(deadline: .now() + 0.2) { [self] in
                            guard paused else { return }
                            paused = false
                            self.listener?.resume()
                        }
                    }
                }
                return
            }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard active < limits.maxConnections else {
                Glibc.close(client)
                log("connection refused: \(limits.maxConnections) connections open")
                continue
            }
            active += 1
            let connection = Connection(fd: client, tls: tls, limits: limits, handler: handler, log: log)
            let thread = Thread { [self] in
                connection.serve()
                queue.async { self.active -= 1 }
            }
            thread.start()
        }
    }

    /// One client connection, served on its own thread.
    final class Connection: @unchecked Sendable {
        let fd: Int32
        let tlsContext: TLSContext?
        var tls: TLSConnection?
        let limits: Limits
        let handler: Handler
        let log: @Sendable (String) -> Void
        var buffer: [UInt8] = []
        /// What each read fills, allocated once per connection.
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var deadline = DispatchTime.now()

        init(fd: Int32, tls: TLSContext?, limits: Limits, handler: @escaping Handler, log: @escaping @Sendable (String) -> Void) {
            self.fd = fd
            self.tlsContext = tls
            self.limits = limits
            self.handler = handler
            self.log = log
        }

        func serve() {
            defer {
                if let tls {
                    tls.shutdown()
                } else {
                    lingeringClose()
                }
                tls = nil
                Glibc.close(fd)
            }
            deadline = .now() + limits.requestTimeout
            if let tlsContext {
                guard let connection = try? TLSConnection(context: tlsContext, socket: fd, role: .server) else { return }
                tls = connection
                while true {
                    switch connection.handshake() {
                    case .done: break
                    case .wantRead: if wait(for: Int16(POLLIN)) { continue } else { return }
                    case .wantWrite: if wait(for: Int16(POLLOUT)) { continue } else { return }
                    case .closed, .failed: return
                    }
                    break
                }
            }
            for served in 0..<limits.maxRequestsPerConnection {
                if served > 0 { deadline = .now() + limits.requestTimeout }
                switch readRequest() {
                case .none:
                    return  // the client closed, timed out, or the connection failed
                case .some(.failure(let response, let reason)):
                    log("request refused status=\(response.status) \(reason)")
                    _ = send(response, keepAlive: false, head: false)
                    return
                case .some(.success(let request)):
                    let (response, summary) = handler(request.method, request.path, request.body)
                    // The method and path are the client's bytes: escaped and bounded, one line each.
                    log("request method=\(LogText.escaped(request.method, maxBytes: 20)) path=\(LogText.escaped(request.path)) status=\(response.status) \(summary)")
                    let keepAlive = request.keepAlive && served + 1 < limits.maxRequestsPerConnection
                    guard send(response, keepAlive: keepAlive, head: request.method == "HEAD"), keepAlive else { return }
                }
            }
        }

        enum Outcome {
            case success(HTTPRequest)
            case failure(WitnessResponse, String)
        }

        /// Reads one request; nil when the connection ended or timed out before one was complete.
        func readRequest() -> Outcome? {
            var head: HTTPRequestHead?
            // Where the search for the head's end resumes: each byte is looked at about once, however
            // slowly the head trickles in.
            var scanned = 0
            while true {
                if head == nil {
                    switch HTTPRequestHead.parse(buffer, maxBytes: limits.maxRequestBytes, searchFrom: scanned) {
                    case .incomplete:
                        scanned = HTTPRequestHead.resumePoint(afterScanning: buffer.count)
                    case .invalid(let status, let reason):
                        return .failure(WitnessResponse(status: status, text: reason + "\n"), reason)
                    case .complete(let parsed):
                        head = parsed
                        if parsed.expectsContinue && buffer.count < parsed.headLength + parsed.contentLength {
                            guard write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
                        }
                    }
                }
                if let head {
                    let total = head.headLength + head.contentLength
                    if buffer.count >= total {
                        let body = Array(buffer[head.headLength..<total])
                        buffer.removeFirst(total)
                        return .success(HTTPRequest(method: head.method, path: head.path, body: body, keepAlive: head.keepAlive))
                    }
                }
                let count = scratch.withUnsafeMutableBytes { read(into: $0) }
                guard let count, count > 0 else { return nil }
                buffer.append(contentsOf: scratch[0..<count])
                if head == nil && buffer.count > limits.maxRequestBytes {
                    return .failure(WitnessResponse(status: 413, text: "request too large\n"), "request head over \(limits.maxRequestBytes) bytes")
                }
            }
        }

        /// Closing a socket with unread input makes the kernel send a reset, which can destroy an
        /// answer the client has not read yet (a 413 sent before the body arrived). So: end our side,
        /// and read and discard what the client still sends, for at most a second and 256 KiB, or
        /// until the request's deadline if that is sooner.
        func lingeringClose() {
            shutdown(fd, Int32(SHUT_WR))
            deadline = min(deadline, .now() + 1)
            var discarded = 0
            while discarded < 256 * 1024 {
                let count = scratch.withUnsafeMutableBytes { read(into: $0) }
                guard let count, count > 0 else { return }
                discarded += count
            }
        }

        /// Waits until the socket is ready for `events` or the deadline passes.
        func wait(for events: Int16) -> Bool {
            while true {
                let now = DispatchTime.now()
                guard now < deadline else { return false }
                let milliseconds = Int32(min(Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e6 + 1, 60_000))
                var poller = pollfd(fd: fd, events: events, revents: 0)
                let result = poll(&poller, 1, milliseconds)
                if result > 0 { return true }
                if result < 0 && errno != EINTR { return false }
            }
        }

        /// Bytes read (0 at the end of the stream), or nil on error or timeout.
        func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
            while true {
                if let tls {
                    switch tls.read(into: buffer) {
                    case .done(let count): return count
                    case .closed: return 0
                    case .wantRead: guard wait(for: Int16(POLLIN)) else { return nil }
                    case .wantWrite: guard wait(for: Int16(POLLOUT)) else { return nil }
                    case .failed: return nil
                    }
                } else {
                    let count = recv(fd, buffer.baseAddress, buffer.count, 0)
                    if count >= 0 { return count }
                    if errno == EINTR { continue }
                    guard errno == EAGAIN || errno == EWOULDBLOCK, wait(for: Int16(POLLIN)) else { return nil }
                }
            }
        }

        func send(_ response: WitnessResponse, keepAlive: Bool, head: Bool) -> Bool {
            var text = "HTTP/1.1 \(response.status) \(HTTPRequestHead.reason(response.status))\r\n"
            text += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\nCache-Control: no-store\r\n"
            text += keepAlive ? "\r\n" : "Connection: close\r\n\r\n"
            return write(Array(text.utf8) + (head ? [] : response.body))
        }

        /// Writes all of `bytes` before the deadline.
        func write(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let result: Int? = bytes[sent...].withUnsafeBytes { raw in
                    if let tls {
                        switch tls.write(raw) {
                        case .done(let count): return count
                        case .wantRead: return wait(for: Int16(POLLIN)) ? 0 : nil
                        case .wantWrite: return wait(for: Int16(POLLOUT)) ? 0 : nil
                        case .closed, .failed: return nil
                        }
                    }
                    let count = Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
                    if count >= 0 { return count }
                    if errno == EINTR { return 0 }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return wait(for: Int16(POLLOUT)) ? 0 : nil }
                    return nil
                }
                guard let result else { return false }
                sent += result
            }
            return true
        }
    }
}

/// One request, read whole.
struct HTTPRequest {
    var method: String
    var path: String
    var body: [UInt8]
    var keepAlive: Bool
}

/// A request's head, parsed strictly enough for a witness.
struct HTTPRequestHead: Equatable {
    var method: String
    var path: String
    var contentLength: Int
    var keepAlive: Bool
    /// Bytes of the head, through its blank line.
    var headLength: Int
    /// The client waits for `100 Continue` before it sends the body (curl does, over 1 KiB).
    var expectsContinue = false

    enum Parse: Equatable {
        case incomplete
        case invalid(status: Int, reason: String)
        case complete(HTTPRequestHead)
    }

    /// Where a search that found no end in `count` bytes resumes: an end (LF LF or LF CR LF) may
    /// start at either of the last two bytes, which the search could not yet decide.
    static func resumePoint(afterScanning count: Int) -> Int { max(0, count - 2) }

    /// Parses the head at the start of `bytes`; the search for its end starts at `searchFrom` (a
    /// `resumePoint` of an earlier search of the same bytes, 0 for none).
    static func parse(_ bytes: [UInt8], maxBytes: Int, searchFrom: Int = 0) -> Parse {
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
        guard let text = String(validating: bytes[..<end], as: UTF8.self) else { return .invalid(status: 400, reason: "the request head is not UTF-8") }
        // Split on the LF byte ("\r\n" is one Character, so split the scalars), then drop each CR.
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            Substring(String(line.last == "\r" ? line.dropLast() : line))
        }
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2] == "HTTP/1.1" || requestLine[2] == "HTTP/1.0", requestLine[1].hasPrefix("/") else {
            return .invalid(status: 400, reason: "not an HTTP/1.x request line")
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
        guard end + length <= maxBytes else { return .invalid(status: 413, reason: "request over \(maxBytes) bytes") }
        let method = String(requestLine[0])
        if method == "POST" && contentLength == nil { return .invalid(status: 411, reason: "a POST needs a Content-Length") }
        let path = String(requestLine[1].prefix { $0 != "?" })
        return .complete(HTTPRequestHead(method: method, path: path, contentLength: length, keepAlive: keepAlive, headLength: end,
                                         expectsContinue: expectsContinue && length > 0))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Entity"
        case 500: return "Internal Server Error"
        default: return "Status"
        }
    }
}

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
