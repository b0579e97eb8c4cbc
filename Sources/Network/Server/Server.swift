import DequeModule
import Dispatch
import Domain
import Foundation
import Locking
import LogWriter
import Logging
import Sockets
import Observability
import TLS
import Vault

/// Why the server could not start.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The ports the server listens on, once bound.
public struct ServerPorts: Sendable {
    /// `ServerConfig.port` (speaking TLS when `portSpeaksTLS`).
    public let port: UInt16
    public let portSpeaksTLS: Bool
    /// The separate TLS port, if one was asked for.
    public let tlsPort: UInt16?
}

/// The TCP server: accepts connections and hands them the shared committer and read pool.
///
/// `@unchecked Sendable`: the connection table and the TLS context are behind `Locked`;
/// `listeners`, `nextID` and `draining` are touched only on `acceptQueue`.
public final class Server: ConnectionHost, @unchecked Sendable {
    public let config: ServerConfig
    let logger: Logger
    /// Counters and histograms for `/metrics`; nil: nothing is counted.
    let metrics: DaemonMetrics?
    let committer: GroupCommitter
    /// Seals and appends: the committer's, and each connection's to seal its writes on its own queue.
    let writer: LogWriter
    let readers: ReadPool
    private let registryFollower: RegistryFollower
    private let failoverWatch: FailoverWatch
    private let acceptQueue = DispatchQueue(label: "consultd.accept")

    /// What a listening socket does with the connections it accepts.
    private enum ListenerKind {
        case plain
        case tls
        /// `--require-tls`: one line saying where TLS is, then close.
        case refusePlain(tlsPort: UInt16)
    }

    private struct Listener {
        let fd: Int32
        let source: DispatchSourceRead
        let kind: ListenerKind
    }
    private var listeners: [Listener] = []
    /// The context new TLS connections are made from; SIGHUP replaces it, and connections already
    /// open keep the one they were made from (OpenSSL counts the references).
    private let tlsContext = Locked<TLSContext?>(nil)

    /// Open connections, and those of them not yet authenticated (by accept order, oldest first).
    private struct Table {
        var connections: [Int: ClientConnection] = [:]
        var unauthenticated = Deque<Int>()
    }
    private let table = Locked(Table())
    private let closedCondition = NSCondition()
    private var nextID = 0
    private var draining = false
    /// Between `start` (its listeners resumed) and `stop`: what `/ready` reports besides the database.
    private let accepting = Locked(false)

    /// `vault` seals personal content on its way into the log and opens it for STATUS; `metrics`,
    /// when given, counts writes and batches.
    public init(config: ServerConfig, vault: Vault, logger: Logger, metrics: DaemonMetrics? = nil) {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        let registry = SharedRegistry()
        // Every session of the server reports each connection it opens: a new primary (after a
        // failover) has the registry rebuilt from it before any request is served from it.
        let watch = FailoverWatch(registry: registry, logger: logger)
        failoverWatch = watch
        writer = LogWriter(vault: vault, logger: logger)
        committer = GroupCommitter(config: config, registry: registry, writer: writer, logger: logger, metrics: metrics, watch: watch)
        readers = ReadPool(config: config, registry: registry, vault: vault, logger: logger, watch: watch)
        registryFollower = RegistryFollower(
            registry: registry, watch: watch, conninfo: config.conninfo, timeout: config.databaseTimeout, logger: logger)
    }

    /// Reads the TLS certificate, key and client CA (when TLS is configured); throws, naming the
    /// file and OpenSSL's reason, when one cannot be used. `start` calls it if it was not called.
    @discardableResult
    public func loadTLS() throws -> CertificateSummary? {
        guard let settings = config.tls else { return nil }
        let context: TLSContext
        do {
            context = try TLSContext.server(
                certificateFile: settings.certificateFile, keyFile: settings.keyFile, clientCAFile: settings.clientCAFile)
        } catch {
            throw ServerError(description: "cannot use TLS: \(error)")
        }
        tlsContext.withLock { $0 = context }
        warnIfExpiring(context.certificate)
        return context.certificate
    }

    /// SIGHUP: reads the certificate, key and client CA again and makes new connections from them;
    /// open connections keep theirs. If the files cannot be used, logs why and keeps the old ones.
    public func reloadTLS() {
        guard config.tls != nil else {
            logger.info("SIGHUP: no TLS configured; nothing to reload")
            return
        }
        do {
            let certificate = try loadTLS()
            logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(certificate.map(String.init(describing:)) ?? "-")"])
        } catch {
            logger.error("TLS reload failed; new connections keep the previous certificate", metadata: ["error": "\(error)"])
        }
    }

    /// An expired certificate is served (clients will refuse it), but the operator is told.
    private func warnIfExpiring(_ certificate: CertificateSummary?) {
        guard let notAfter = certificate?.notAfter else { return }
        if notAfter < Date() {
            logger.warning("the TLS certificate has expired; clients will refuse it", metadata: ["not_after": "\(notAfter)"])
        } else if notAfter < Date().addingTimeInterval(14 * 86_400) {
            logger.warning("the TLS certificate expires within 14 days", metadata: ["not_after": "\(notAfter)"])
        }
    }

    /// Binds, listens and starts serving; returns the ports (useful with port 0).
    public func start() throws -> ServerPorts {
        // Each client is a descriptor: allow as many as the hard limit does.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let ports: ServerPorts
        if let settings = config.tls {
            if tlsContext.current == nil { try loadTLS() }
            // OpenSSL writes with write(2), which cannot pass MSG_NOSIGNAL: a client that closes
            // early must not kill the daemon.
            signal(SIGPIPE, SIG_IGN)
            if let tlsPort = settings.port {
                let tls = try Self.listen(host: settings.host ?? config.host, port: tlsPort)
                let plain = try Self.listen(host: config.host, port: config.port)
                open(tls.fd, kind: .tls)
                open(plain.fd, kind: settings.required ? .refusePlain(tlsPort: tls.port) : .plain)
                ports = ServerPorts(port: plain.port, portSpeaksTLS: false, tlsPort: tls.port)
            } else {
                let listening = try Self.listen(host: config.host, port: config.port)
                open(listening.fd, kind: .tls)
                ports = ServerPorts(port: listening.port, portSpeaksTLS: true, tlsPort: nil)
            }
        } else {
            let listening = try Self.listen(host: config.host, port: config.port)
            open(listening.fd, kind: .plain)
            ports = ServerPorts(port: listening.port, portSpeaksTLS: false, tlsPort: nil)
        }
        registryFollower.start()
        readers.start()
        committer.start()
        acceptQueue.sync { for listener in listeners { listener.source.resume() } }
        accepting.withLock { $0 = true }
        return ports
    }

    /// Makes the accept source of a listening socket (resumed by `start` once everything is ready).
    private func open(_ fd: Int32, kind: ListenerKind) {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [self] in acceptAll(fd, kind) }
        source.setCancelHandler { Foundation.close(fd) }
        acceptQueue.sync { listeners.append(Listener(fd: fd, source: source, kind: kind)) }
    }

    /// Graceful stop, in order: no new connections or requests; the writes taken are committed and
    /// answered (writes arriving now are told the server is shutting down); connections close;
    /// the read pool and the registry follower stop. Returns when done or after `config.shutdownTimeout`.
    public func stop() {
        // One deadline for every stage, so that a stalled database cannot stretch the stop past what
        // systemd allows (TimeoutStopSec).
        let deadline = Date().addingTimeInterval(config.shutdownTimeout)
        func remaining() -> Double { max(0, deadline.timeIntervalSinceNow) }
        accepting.withLock { $0 = false }
        acceptQueue.sync {
            draining = true
            for listener in listeners { listener.source.cancel() }
        }
        for connection in table.current.connections.values { connection.drain() }
        committer.stop(timeout: remaining())
        closedCondition.lock()
        while !table.current.connections.isEmpty && Date() < deadline {
            _ = closedCondition.wait(until: deadline)
        }
        closedCondition.unlock()
        readers.stop(timeout: remaining())
        registryFollower.stop(timeout: remaining())
    }

    /// How many times the daemon found another database server than before (a failover) and rebuilt
    /// its registry from it.
    public var failoversNoticed: Int { failoverWatch.changes }

    /// Connections open now.
    public var connectionCount: Int { table.current.connections.count }

    /// Open connections by state, for `/metrics`.
    public var connectionStates: (unauthenticated: Int, authenticated: Int) {
        table.withLock { ($0.unauthenticated.count, $0.connections.count - $0.unauthenticated.count) }
    }

    /// Bytes of writes waiting for the committer now.
    public var queuedBytes: Int { committer.queuedBytesNow }

    /// Listening and taking connections (started, not stopping).
    public var isAccepting: Bool { accepting.current }

    /// Returns once the accept queue has run a block: a liveness check for systemd's watchdog
    /// (a wedged accept queue stops the heartbeats, and systemd restarts the daemon).
    public func heartbeat() {
        acceptQueue.sync {}
    }

    func connectionAuthenticated(_ id: Int) {
        table.withLock { $0.unauthenticated.removeAll { $0 == id } }
    }

    func connectionClosed(_ id: Int) {
        table.withLock { table in
            table.connections[id] = nil
            table.unauthenticated.removeAll { $0 == id }
        }
        closedCondition.lock()
        closedCondition.broadcast()
        closedCondition.unlock()
    }

    private func acceptAll(_ listenFD: Int32, _ kind: ListenerKind) {
        // Accept until EAGAIN: one readiness event may stand for many waiting connections.
        while true {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    // Out of descriptors: the pending connection stays queued and the source would
                    // fire at once again; pause accepting briefly instead of spinning.
                    logger.error("out of file descriptors; pausing accept")
                    listeners.first { $0.fd == listenFD }?.source.suspend()
                    acceptQueue.asyncAfter(deadline: .now() + 0.2) { [self] in listeners.first { $0.fd == listenFD }?.source.resume() }
                    return
                }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    logger.error("accept failed", metadata: ["error": "\(String(cString: strerror(errno)))"])
                }
                return
            }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if case .refusePlain(let tlsPort) = kind {
                refuse(client, "ERR PROTOCOL TLS required: connect with TLS to port \(tlsPort)\n")
                continue
            }
            if draining || connectionCount >= config.maxConnections {
                if case .tls = kind {
                    // Saying why would take a handshake, which a server over its limit does not spend;
                    // the client sees the connection closed before it (docs/PROTOCOL.md).
                    Foundation.close(client)
                } else {
                    refuse(client, draining ? "ERR BUSY server shutting down; retry later\n" : "ERR BUSY too many connections; retry later\n")
                }
                continue
            }
            let transport: any Transport
            switch kind {
            case .plain, .refusePlain:
                transport = PlainTransport(fd: client)
            case .tls:
                guard let context = tlsContext.current else {
                    Foundation.close(client)
                    continue
                }
                do {
                    transport = try TLSTransport(fd: client, context: context)
                } catch {
                    logger.error("cannot start TLS on a connection", metadata: ["error": "\(error)"])
                    Foundation.close(client)
                    continue
                }
            }
            nextID += 1
            let connection = ClientConnection(fd: client, transport: transport, remote: Self.describe(address), id: nextID, host: self)
            // Over the cap of connections waiting for AUTH, the oldest of them makes room: a flood of
            // idle sockets cannot keep an organisation, which authenticates at once, from getting in.
            let evicted = table.withLock { table -> ClientConnection? in
                table.connections[nextID] = connection
                table.unauthenticated.append(nextID)
                guard table.unauthenticated.count > config.maxUnauthenticated else { return nil }
                return table.connections[table.unauthenticated.removeFirst()]
            }
            connection.start()
            evicted?.evict()
        }
    }

    /// One line in plain text, then close (the socket is fresh: the line fits in its buffer).
    private func refuse(_ client: Int32, _ line: String) {
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { Foundation.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        Foundation.close(client)
    }

    /// A listening socket for submissions, and the port it is bound to.
    private static func listen(host: String, port: UInt16) throws -> (fd: Int32, port: UInt16) {
        do {
            return try ListeningSocket.open(host: host, port: port, backlog: 1024, for: "submissions")
        } catch let failure as ListeningSocket.Failure {
            throw ServerError(description: failure.description)
        }
    }

    private static func describe(_ address: sockaddr_storage) -> String {
        var address = address
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, socklen_t(MemoryLayout<sockaddr_storage>.size), &host, socklen_t(host.count), &service,
                            socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return "unknown" }
        return "\(String(cString: host)):\(String(cString: service))"
    }
}
