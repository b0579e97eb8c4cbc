import Dispatch
import Foundation
import Sockets

/// A minimal HTTP/1.1 server for the operator's endpoints (`/metrics`, `/health`, `/ready`): one
/// GET per connection, answered from memory and closed. Everything a client can make it hold is
/// bounded: `maxConnections` sockets (a new one evicts the oldest, so idle or slow clients cannot
/// keep a scraper out), `maxRequestBytes` of request head, and `requestTimeout` seconds from accept
/// to the last byte of the answer. Handlers run on the endpoint's queue and must not block for long:
/// most read state others keep current; one that reads a database bounds each read (consultd's
/// `/checkpoint` and `/tile/…`: three reads of at most 1.5 s), and other answers wait that long at most.
///
/// `@unchecked Sendable`: every mutable field, and every exchange, is touched only on `queue`.
public final class HTTPEndpoint: @unchecked Sendable {
    /// One answer.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        /// The Cache-Control header (`no-store` unless the handler knows the answer never changes).
        public var cacheControl: String

        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8], cacheControl: String = "no-store") {
            self.status = status
            self.contentType = contentType
            self.body = body
            self.cacheControl = cacheControl
        }

        public init(status: Int, text: String) {
            self.init(status: status, body: Array(text.utf8))
        }
    }

    /// What one client may hold.
    public struct Limits: Sendable {
        public var maxConnections = 16
        public var maxRequestBytes = 8_192
        public var requestTimeout: Double = 5
        public init() {}
    }

    /// Why the endpoint could not listen.
    public typealias Handler = @Sendable (_ method: String, _ path: String) -> Response

    private let host: String
    private let port: UInt16
    private let limits: Limits
    private let handler: Handler
    private let queue = DispatchQueue(label: "consultd.http")
    private var listener: DispatchSourceRead?
    /// True while accepting is paused for want of descriptors (the source is suspended).
    private var paused = false
    private var exchanges: [Int: Exchange] = [:]
    private var nextID = 0

    public init(host: String, port: UInt16, limits: Limits = Limits(), handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.limits = limits
        self.handler = handler
    }

    /// Binds and serves; returns the port (useful with port 0).
    public func start() throws -> UInt16 {
        let (fd, bound) = try ListeningSocket.open(host: host, port: port, backlog: 64, for: "HTTP")
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in acceptAll(fd) }
        source.setCancelHandler { Foundation.close(fd) }
        queue.sync { listener = source }
        source.resume()
        return bound
    }

    /// Stops listening and closes every open exchange.
    public func stop() {
        queue.sync {
            listener?.cancel()
            if paused { listener?.resume() }  // a suspended source never finishes its cancellation
            paused = false
            listener = nil
            for exchange in exchanges.values { exchange.close() }
        }
    }

    /// Open exchanges now (for tests of the bounds).
    public var openExchanges: Int { queue.sync { exchanges.count } }

    private func acceptAll(_ listenFD: Int32) {
        // At most one round of the connection bound per event: an evicted exchange's socket is closed
        // by its cancel handler, which runs on this queue only once this returns.
        for _ in 0..<limits.maxConnections {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE, let listener, !paused {
                    // The pending connection stays queued and the source would fire again at once:
                    // pause accepting briefly instead of spinning (the protocol port matters more).
                    listener.suspend()
                    paused = true
                    queue.asyncAfter(deadline: .now() + 0.2) { [self] in
                        guard paused else { return }
                        paused = false
                        self.listener?.resume()
                    }
                }
                return
            }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            if exchanges.count >= limits.maxConnections, let oldest = exchanges.keys.min() {
                exchanges[oldest]?.close()
            }
            nextID += 1
            let id = nextID
            let exchange = Exchange(fd: client, limits: limits, queue: queue, handler: handler) { [self] in exchanges[id] = nil }
            exchanges[id] = exchange
            exchange.start()
        }
    }

    /// One connection: read a request head, answer, close. Lives on the endpoint's queue.
    private final class Exchange {
        private let fd: Int32
        private let limits: Limits
        private let queue: DispatchQueue
        private let handler: Handler
        private let onClose: () -> Void
        private var readSource: DispatchSourceRead?
        private var writeSource: DispatchSourceWrite?
        private var timer: DispatchSourceTimer?
        private var request: [UInt8] = []
        private var output: [UInt8] = []
        private var sent = 0
        private var closed = false
        /// Sources not yet through their cancel handler; the socket is closed when none is left.
        private var liveSources = 0
        private var readSuspended = false

        init(fd: Int32, limits: Limits, queue: DispatchQueue, handler: @escaping Handler, onClose: @escaping () -> Void) {
            self.fd = fd
            self.limits = limits
            self.queue = queue
            self.handler = handler
            self.onClose = onClose
        }

        func start() {
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            read.setEventHandler { [self] in readable() }
            read.setCancelHandler { [self] in sourceCancelled() }
            liveSources += 1
            readSource = read
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [self] in close() }
            timer.schedule(deadline: .now() + limits.requestTimeout)
            self.timer = timer
            timer.resume()
            read.resume()
        }

        private func readable() {
            guard !closed else { return }
            var chunk = [UInt8](repeating: 0, count: 4_096)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return close() }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                return close()
            }
            request.append(contentsOf: chunk[0..<count])
            if let end = Self.headEnd(request) {
                readSource?.suspend()  // nothing more is read; `close` resumes it to cancel it
                readSuspended = true
                answer(head: request[..<end])
            } else if request.count > limits.maxRequestBytes {
                readSource?.suspend()
                readSuspended = true
                respond(Response(status: 431, text: "request head too large\n"), method: "GET")
            }
        }

        /// The index just past the blank line ending the head (CRLF CRLF, or LF LF from lenient clients).
        private static func headEnd(_ bytes: [UInt8]) -> Int? {
            var index = 0
            while index + 1 < bytes.count {
                if bytes[index] == 0x0A {
                    if bytes[index + 1] == 0x0A { return index + 2 }
                    if bytes[index + 1] == 0x0D, index + 2 < bytes.count, bytes[index + 2] == 0x0A { return index + 3 }
                }
                index += 1
            }
            return nil
        }

        private func answer(head: ArraySlice<UInt8>) {
            let firstLine = head.prefix { $0 != 0x0D && $0 != 0x0A }
            let parts = String(decoding: firstLine, as: UTF8.self).split(separator: " ")
            guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
                return respond(Response(status: 400, text: "bad request\n"), method: "GET")
            }
            let method = String(parts[0])
            guard method == "GET" || method == "HEAD" else {
                return respond(Response(status: 405, text: "only GET and HEAD\n"), method: "GET")
            }
            // The query string plays no part in routing.
            let path = String(parts[1].prefix { $0 != "?" })
            respond(handler(method, path), method: method)
        }

        private func respond(_ response: Response, method: String) {
            var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
            head += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
            head += "Cache-Control: \(response.cacheControl)\r\nConnection: close\r\n\r\n"
            output = Array(head.utf8) + (method == "HEAD" ? [] : response.body)
            flush()
        }

        private func flush() {
            while !closed && sent < output.count {
                let count = output[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count > 0 {
                    sent += count
                } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if writeSource == nil {
                        let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
                        write.setEventHandler { [self] in flush() }
                        write.setCancelHandler { [self] in sourceCancelled() }
                        liveSources += 1
                        writeSource = write
                        write.resume()
                    }
                    return
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    return close()
                }
            }
            close()
        }

        /// Cancels the sources; the socket is closed once the last of them is through its cancel
        /// handler (Dispatch may still be watching the descriptor until then).
        func close() {
            guard !closed else { return }
            closed = true
            readSource?.cancel()
            // A suspended source must be resumed for its cancellation to complete.
            if readSuspended { readSource?.resume() }
            writeSource?.cancel()
            timer?.cancel()
            timer = nil
            if liveSources == 0 { Foundation.close(fd) }
            onClose()
        }

        private func sourceCancelled() {
            liveSources -= 1
            if liveSources == 0 && closed {
                readSource = nil
                writeSource = nil
                Foundation.close(fd)
            }
        }

        private static func reason(_ status: Int) -> String {
            switch status {
            case 200: return "OK"
            case 400: return "Bad Request"
            case 404: return "Not Found"
            case 405: return "Method Not Allowed"
            case 431: return "Request Header Fields Too Large"
            case 503: return "Service Unavailable"
            default: return "Status"
            }
        }
    }
}
