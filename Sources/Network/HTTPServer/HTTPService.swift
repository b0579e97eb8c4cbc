import Dispatch
import Foundation
import Sockets
import TLS

/// A small HTTP/1.1 server, in the clear or over TLS, for one handler: requests with a body
/// (Content-Length; no chunked bodies), keep-alive, and every resource a client can make it hold
/// bounded: `maxConnections` at once, `maxRequestBytes` per request (and `maxHeadBytes` of head),
/// and `requestTimeout` seconds for each request, from the wait for its first byte (the TLS
/// handshake included) to the last byte of the answer. Each connection is served on a thread of
/// its own with blocking waits (`poll`) on a non-blocking socket, so a slow client holds only its
/// own thread; handlers run on those threads, several at once.
///
/// `@unchecked Sendable`: `listener`, `paused`, `connections` and `nextID` are touched only on `queue`.
public final class HTTPService: @unchecked Sendable {
    /// What the clients together, and each of them, may hold.
    public struct Limits: Sendable {
        /// What a connection over `maxConnections` comes to.
        public enum WhenFull: Sendable {
            /// Closed at accept, unanswered.
            case refuseNew
            /// The oldest open connection is closed to make room: idle or slow clients cannot keep
            /// out one that asks and goes.
            case evictOldest
        }

        public var maxConnections: Int
        public var whenFull: WhenFull
        /// Head and body of one request, and what the head may take.
        public var rules: HTTPRequestRules
        public var requestTimeout: Double
        /// 1: every answer says `Connection: close`.
        public var maxRequestsPerConnection: Int

        public init(maxConnections: Int, whenFull: WhenFull, rules: HTTPRequestRules, requestTimeout: Double, maxRequestsPerConnection: Int) {
            self.maxConnections = maxConnections
            self.whenFull = whenFull
            self.rules = rules
            self.requestTimeout = requestTimeout
            self.maxRequestsPerConnection = maxRequestsPerConnection
        }
    }

    /// The answer to one request; it runs on the connection's thread.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private let host: String
    private let port: UInt16
    private let purpose: String
    private let backlog: Int32
    private let tls: TLSContext?
    private let limits: Limits
    private let handler: Handler
    private let log: @Sendable (String) -> Void
    private let queue: DispatchQueue
    private var listener: DispatchSourceRead?
    /// True while accepting is paused for want of descriptors (the source is suspended).
    private var paused = false
    private var connections: [Int: HTTPConnection] = [:]
    private var nextID = 0

    /// `purpose` names the port in a failure to listen; `log` takes one line about
    /// each refusal (a connection over the bound, a request that cannot be served).
    public init(host: String, port: UInt16, purpose: String, backlog: Int32, tls: TLSContext? = nil, limits: Limits,
                log: @escaping @Sendable (String) -> Void = { _ in }, handler: @escaping Handler) {
        self.host = host
        self.port = port
        self.purpose = purpose
        self.backlog = backlog
        self.tls = tls
        self.limits = limits
        self.log = log
        self.handler = handler
        queue = DispatchQueue(label: "consultd.http")
    }

    /// Binds and serves; returns the bound port (useful with port 0).
    public func start() throws -> UInt16 {
        let (fd, bound) = try ListeningSocket.open(host: host, port: port, backlog: backlog, for: purpose)
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in acceptAll(fd) }
        source.setCancelHandler { Foundation.close(fd) }
        queue.sync { listener = source }
        source.resume()
        return bound
    }

    /// Stops listening and cuts every open connection short.
    public func stop() {
        queue.sync {
            listener?.cancel()
            if paused { listener?.resume() }  // a suspended source never finishes its cancellation
            paused = false
            listener = nil
            for connection in connections.values { connection.cutShort() }
            connections = [:]
        }
    }

    /// Connections open now (for tests of the bounds).
    public var openConnections: Int { queue.sync { connections.count } }

    private func acceptAll(_ listenFD: Int32) {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE, let listener, !paused {
                    // The pending connection stays queued and the source would fire again at once:
                    // pause accepting briefly instead of spinning.
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
            if connections.count >= limits.maxConnections {
                switch limits.whenFull {
                case .refuseNew:
                    Foundation.close(client)
                    log("connection refused: \(limits.maxConnections) connections open")
                    continue
                case .evictOldest:
                    if let oldest = connections.keys.min() { connections.removeValue(forKey: oldest)?.cutShort() }
                }
            }
            nextID += 1
            let id = nextID
            let connection = HTTPConnection(fd: client, tls: tls, limits: limits, handler: handler, log: log)
            connections[id] = connection
            let thread = Thread { [self] in
                connection.serve()
                queue.async { self.connections[id] = nil }
            }
            thread.start()
        }
    }
}
