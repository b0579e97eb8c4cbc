import HTTPServer

/// The operator's HTTP endpoint (`/metrics`, `/health`, `/ready`; consultd adds `/checkpoint` and
/// `/tile/…`) on HTTPServer's server: one GET or HEAD per connection, answered and closed.
/// Everything a client can make it hold is bounded: `maxConnections` sockets (a new one evicts the
/// oldest, so idle or slow clients cannot keep a scraper out), `maxRequestBytes` of request head
/// (more is 431), and `requestTimeout` seconds from accept to the last byte of the answer.
/// Handlers run on the connections' threads, several at once, and must not block for long: most
/// read state others keep current; one that reads a database bounds each read (consultd's
/// `/checkpoint` and `/tile/…`: three reads of at most 1.5 s).
public final class HTTPEndpoint: Sendable {
    /// One answer.
    public typealias Response = HTTPResponse

    /// What one client may hold.
    public struct Limits: Sendable {
        public var maxConnections = 16
        public var maxRequestBytes = 8_192
        public var requestTimeout: Double = 5
        public init() {}
    }

    /// The answer to a GET or HEAD of `path` (without its query string).
    public typealias Handler = @Sendable (_ method: String, _ path: String) -> Response

    private let service: HTTPService

    public init(host: String, port: UInt16, limits: Limits = Limits(), handler: @escaping Handler) {
        let rules = HTTPRequestRules(maxBytes: limits.maxRequestBytes, maxHeadBytes: limits.maxRequestBytes, methods: ["GET", "HEAD"])
        service = HTTPService(
            host: host, port: port, purpose: "HTTP", backlog: 64,
            limits: HTTPService.Limits(
                maxConnections: limits.maxConnections, whenFull: .evictOldest, rules: rules, requestTimeout: limits.requestTimeout,
                maxRequestsPerConnection: 1)
        ) { request in handler(request.method, request.path) }
    }

    /// Binds and serves; returns the port (useful with port 0).
    public func start() throws -> UInt16 { try service.start() }

    /// Stops listening and closes every open exchange.
    public func stop() { service.stop() }

    /// Open exchanges now (for tests of the bounds).
    public var openExchanges: Int { service.openConnections }
}
