import HTTPServer
import TLS

/// The witness's HTTP server (HTTPServer's, in the clear or over TLS) with the witness's bounds:
/// `maxConnections` at once (more are closed at accept), `maxRequestBytes` per request (head and
/// body), `requestTimeout` seconds for each request, and keep-alive for up to
/// `maxRequestsPerConnection` requests; one log line per request and per refusal.
public final class WitnessHTTPServer: Sendable {
    /// What the clients together, and each of them, may hold.
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

    private let service: HTTPService

    public init(host: String, port: UInt16, tls: TLSContext? = nil, limits: Limits = Limits(),
                log: @escaping @Sendable (String) -> Void, handler: @escaping Handler) {
        let serviceLimits = HTTPService.Limits(
            maxConnections: limits.maxConnections, whenFull: .refuseNew, rules: HTTPRequestRules(maxBytes: limits.maxRequestBytes),
            requestTimeout: limits.requestTimeout, maxRequestsPerConnection: limits.maxRequestsPerConnection)
        service = HTTPService(host: host, port: port, purpose: "witness requests", backlog: 128, tls: tls, limits: serviceLimits, log: log) { request in
            let (response, summary) = handler(request.method, request.path, request.body)
            // The method and path are the client's bytes: escaped and bounded, one line each.
            log("request method=\(LogText.escaped(request.method, maxBytes: 20)) path=\(LogText.escaped(request.path)) status=\(response.status) \(summary)")
            return response
        }
    }

    /// Binds and serves; returns the bound port (useful with port 0).
    public func start() throws -> UInt16 { try service.start() }

    public func stop() { service.stop() }
}
