import ArgumentParser
import Dispatch
import Foundation
import Locking
import Logging
import Migrations
import Observability
import PostgresClient
import Participation
import Projections
import Server
import Trust
import Vault
import Version

/// The long-running daemon: line protocol in, events out to PostgreSQL.
@main
struct Consultd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultd",
        abstract: "Ingest consultation submissions over TCP into the PostgreSQL event log.",
        version: "consultd \(ConsultdVersion.description)")

    @Option(help: "PostgreSQL URL or conninfo (default: $CONSULT_DATABASE_URL, else the PG* variables).")
    var database: String?

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on (0: any free port, logged at start).")
    var port: UInt16 = 7600

    @Option(help: "TLS certificate (PEM, with any intermediates after it; default: $CONSULT_TLS_CERT); with --tls-key, TLS is served. Re-read on SIGHUP.")
    var tlsCert: String?

    @Option(help: "The TLS certificate's private key (PEM; default: $CONSULT_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "CA (PEM; default: $CONSULT_TLS_CLIENT_CA) whose client certificates may stand in for AUTH's token: `AUTH <organisation-id>` is accepted when the certificate's subject CN is that organisation (off by default).")
    var tlsClientCa: String?

    @Option(help: "Serve TLS on this port and plain TCP on --port (default: TLS on --port, no plain port).")
    var tlsPort: UInt16?

    @Option(help: "Address the --tls-port listens on (default: --host), e.g. 0.0.0.0 while plain TCP stays on 127.0.0.1.")
    var tlsHost: String?

    @Flag(help: "With --tls-port: a plain connection on --port gets one line naming the TLS port and is closed.")
    var requireTls = false

    @Option(help: "Serve GET /metrics (Prometheus), /health and /ready over HTTP on this port (default: no HTTP port; 0: any free port, logged at start).")
    var httpPort: UInt16?

    @Option(help: "Address the --http-port listens on. Keep it on loopback (or a private network): the metrics are for the operator.")
    var httpHost: String = "127.0.0.1"

    @Option(help: "Longest request line in bytes.")
    var maxLine: Int = 65_536

    @Option(help: "Most connections open at once; more are answered ERR BUSY and closed.")
    var maxConnections: Int = 2_048

    @Option(help: "Connections not yet authenticated; beyond it the oldest of them is closed (default: a quarter of --max-connections).")
    var maxUnauthenticated: Int?

    @Option(help: "Seconds of silence (nothing owed to the client) before a connection gets ERR TIMEOUT and is closed.")
    var idleTimeout: Double = 300

    @Option(help: "Seconds from connecting to a successful AUTH.")
    var authTimeout: Double = 10

    @Option(help: "Seconds from the first byte of a request line to its newline.")
    var lineTimeout: Double = 30

    @Option(help: "Requests of one connection taken and not yet answered.")
    var maxInFlight: Int = 4_096

    @Option(help: "Bytes held for one connection's requests in flight.")
    var maxInFlightBytes: Int = 4 << 20

    @Option(help: "Reply bytes one connection may leave unread before it is read no more.")
    var maxReplyBytes: Int = 1 << 20

    @Option(help: "Bytes of writes waiting for the committer, all connections together; beyond it ERR BUSY.")
    var maxQueuedBytes: Int = 64 << 20

    @Option(help: "Seconds any one database call may take (connect, statement, lock wait); then ERR BUSY.")
    var databaseTimeout: Double = 5

    @Option(help: "Database sessions answering STATUS, CONSULTATIONS and AUTH of a credential not yet cached.")
    var readers: Int = 2

    @Option(help: "Most submissions committed in one transaction.")
    var batchSize: Int = 512

    @Option(help: "Seconds to wait for a batch to fill once it has one submission (0: commit what is queued).")
    var batchWait: Double = 0

    @Option(help: "Audit policy file for the projections (default: the shipped defaults, policy/default.json).")
    var policy: String?

    @Option(help: "The operator's Ed25519 key (`consultctl keys generate`) that signs checkpoints of the log (default: $CONSULT_SIGNING_KEY; without one no checkpoint is signed).")
    var signingKey: String?

    @Option(help: "The operator's master key (`consultctl keys generate-master`) that seals personal content (default: $CONSULT_MASTER_KEY_FILE). Required: nothing personal is stored in plaintext.")
    var masterKeyFile: String?

    @Option(help: "The log's C2SP origin (e.g. consult.example.org/log): the first line of every checkpoint and the name of the signing key. Set once; stored with the log, and consultd refuses another (default: $CONSULT_LOG_ORIGIN, else the stored one). Without it (and none stored) checkpoints keep the first format and no witness can cosign them.")
    var logOrigin: String?

    @Option(help: ArgumentHelp("A witness to submit checkpoints to: \"VKEY URL\" (its cosignature vkey and its submission prefix, http://host:port[/path]). Repeat for each.", valueName: "vkey url"))
    var witness: [String] = []

    @Option(help: "How many of the --witness cosignatures a checkpoint needs to be the one published and put in receipts (default: a majority).")
    var witnessQuorum: Int?

    @Option(help: "Seconds between signed checkpoints while the log grows.")
    var checkpointInterval: Double = 10

    @Flag(help: "Do not keep the Merkle tree or sign checkpoints here (another consultd on the same database does).")
    var noNotary = false

    @Flag(help: "Refuse to start unless the database commits through a synchronous standby (synchronous_standby_names set, one streaming as sync or quorum, its flush position readable: grant pg_monitor); and sign nothing it has not confirmed even if the standby is later dropped from synchronous_standby_names.")
    var requireSynchronousStandby = false

    @Option(help: "Attempts to reach the database at start before giving up.")
    var connectAttempts: Int = 10

    @Option(help: "text (one line per entry, for people) or json (one JSON object per line, for log shippers).")
    var logFormat: String = ProcessInfo.processInfo.environment["CONSULT_LOG_FORMAT"] ?? "text"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["CONSULT_LOG_LEVEL"] ?? "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \(logLevel)")
        }
        guard logFormat == "text" || logFormat == "json" else { throw ValidationError("--log-format is text or json") }
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "consultd")

        var config = ServerConfig()
        config.host = host
        config.port = port
        config.conninfo = Connection.conninfo(flag: database)
        config.connection.maxLineLength = maxLine
        config.connection.maxReadAheadBytes = maxLine + 65_536
        config.connection.idleTimeout = idleTimeout
        config.connection.authTimeout = authTimeout
        config.connection.lineTimeout = lineTimeout
        config.connection.maxInFlight = maxInFlight
        config.connection.maxInFlightBytes = maxInFlightBytes
        config.connection.maxOutputBytes = maxReplyBytes
        config.maxConnections = maxConnections
        config.maxUnauthenticated = maxUnauthenticated ?? max(1, maxConnections / 4)
        config.maxQueuedBytes = maxQueuedBytes
        config.databaseTimeout = databaseTimeout
        config.readers = readers
        config.batchSize = batchSize
        config.batchWait = batchWait
        let positive = [Double(maxLine), Double(maxConnections), Double(config.maxUnauthenticated), idleTimeout, authTimeout,
                        lineTimeout, Double(maxInFlight), Double(maxInFlightBytes), Double(maxReplyBytes), Double(maxQueuedBytes),
                        databaseTimeout, Double(readers), Double(batchSize)]
        guard positive.allSatisfy({ $0 > 0 }), batchWait >= 0 else {
            Self.exit(withOneLine: "limits, timeouts, --readers and --batch-size must be positive (--batch-wait may be 0)")
        }
        guard let masterPath = masterKeyFile ?? ProcessInfo.processInfo.environment["CONSULT_MASTER_KEY_FILE"] else {
            Self.exit(withOneLine: "no master key: give --master-key-file FILE (make one with `consultctl keys generate-master`)")
        }
        let vault: Vault
        do { vault = Vault(master: try MasterKey.load(masterPath)) } catch { Self.exit(withOneLine: "\(error)") }
        let environment = ProcessInfo.processInfo.environment
        let clientCA = tlsClientCa ?? environment["CONSULT_TLS_CLIENT_CA"]
        switch (tlsCert ?? environment["CONSULT_TLS_CERT"], tlsKey ?? environment["CONSULT_TLS_KEY"]) {
        case (let certificate?, let key?):
            var settings = TLSSettings(certificateFile: certificate, keyFile: key)
            settings.clientCAFile = clientCA
            settings.port = tlsPort
            settings.host = tlsHost
            settings.required = requireTls
            config.tls = settings
        case (nil, nil):
            guard clientCA == nil, tlsPort == nil, tlsHost == nil, !requireTls else {
                Self.exit(withOneLine: "--tls-client-ca, --tls-port, --tls-host and --require-tls need --tls-cert and --tls-key")
            }
        default:
            Self.exit(withOneLine: "--tls-cert and --tls-key go together")
        }
        let keyPath = signingKey ?? ProcessInfo.processInfo.environment["CONSULT_SIGNING_KEY"]
        let key: SigningKey?
        do { key = try keyPath.map(SigningKey.load) } catch { Self.exit(withOneLine: "\(error)") }
        guard checkpointInterval > 0 else { Self.exit(withOneLine: "--checkpoint-interval must be positive") }
        config.signsCheckpoints = key != nil && !noNotary
        let witnesses: [WitnessEndpoint]
        do { witnesses = try witness.map(WitnessEndpoint.init(parsing:)) } catch { Self.exit(withOneLine: "\(error)") }
        let quorum = witnessQuorum ?? (witnesses.isEmpty ? 0 : witnesses.count / 2 + 1)
        guard (0...witnesses.count).contains(quorum) else {
            Self.exit(withOneLine: "--witness-quorum \(quorum): between 0 and the number of --witness (\(witnesses.count))")
        }
        config.witnessPolicy = WitnessPolicy(witnesses: witnesses.map(\.key), quorum: quorum)
        config.requireSynchronousStandby = requireSynchronousStandby
        let metrics = DaemonMetrics(version: ConsultdVersion.number, commit: ConsultdVersion.commit)
        let server = Server(config: config, vault: vault, logger: logger, metrics: metrics)
        let systemd = SystemdNotifier()
        // Certificate files are checked before the database is, so that a wrong path is the one line said.
        do { try server.loadTLS() } catch { Self.exit(withOneLine: "\(error)") }
        let auditPolicy: Policy
        do { auditPolicy = try Policy.load(policy) } catch { Self.exit(withOneLine: "\(error)") }

        // Signals arrive through Dispatch sources (the default action is ignored first), installed
        // before anything else so that a SIGTERM during start-up stops the daemon too. They only
        // wake the main thread, which stops everything in order. A closing client must not kill the
        // daemon: SIGPIPE is ignored (and sends use MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        let stopRequested = DispatchSemaphore(value: 0)
        let stopping = Locked(false)
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "consultd.signals"))
            source.setEventHandler {
                let first = stopping.withLock { already in
                    defer { already = true }
                    return !already
                }
                if first {
                    systemd.notify("STOPPING=1")
                    logger.info("stopping", metadata: ["signal": "\(signalNumber)"])
                    stopRequested.signal()
                }
            }
            source.resume()
            sources.append(source)
        }
        // SIGHUP (systemctl reload): the TLS certificate, key and client CA are read again; open
        // connections keep theirs.
        signal(SIGHUP, SIG_IGN)
        let reload = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "consultd.reload"))
        reload.setEventHandler { server.reloadTLS() }
        reload.resume()
        sources.append(reload)

        let connection: Connection
        do {
            connection = try Connection.connect(config.conninfo, options: .bounded(databaseTimeout), attempts: connectAttempts) { attempt, error in
                logger.warning("database not reachable yet", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        } catch {
            Self.exit(withOneLine: "cannot reach the database after \(connectAttempts) attempts: \(error)")
        }
        do {
            let version = try Migrator.currentVersion(connection)
            guard version >= Schema.requiredVersion else {
                Self.exit(
                    withOneLine: "database schema is at version \(version), this consultd needs "
                        + "\(Schema.requiredVersion): run `consultctl migrate`")
            }
        } catch {
            Self.exit(withOneLine: "cannot read the schema version: \(error)")
        }
        do { try vault.check(connection) } catch { Self.exit(withOneLine: "\(error)") }
        let origin: String?
        let requestedOrigin = logOrigin ?? ProcessInfo.processInfo.environment["CONSULT_LOG_ORIGIN"].flatMap { $0.isEmpty ? nil : $0 }
        do { origin = try LogOrigin.settle(connection, requested: requestedOrigin) } catch { Self.exit(withOneLine: "\(error)") }
        if !witnesses.isEmpty && (origin == nil || key == nil) {
            Self.exit(withOneLine: "--witness needs --log-origin and a signing key: witnesses cosign C2SP checkpoints only")
        }
        // Durability beyond one machine (SPEC): without a synchronous standby a failover can lose
        // acknowledged events, and what was signed over them.
        do {
            let replication = try SynchronousStandby.status(connection)
            if let problem = replication.problem {
                if requireSynchronousStandby { Self.exit(withOneLine: "--require-synchronous-standby: \(problem)") }
                logger.warning("no synchronous standby: \(problem)")
            } else {
                logger.info("synchronous standby confirmed", metadata: ["synchronous_standby_names": "\(replication.names)"])
            }
        } catch {
            Self.exit(withOneLine: "cannot read the database's replication state: \(error)")
        }
        connection.close()
        if stopping.current { return }

        let bound: ServerPorts
        do {
            bound = try server.start()
        } catch {
            Self.exit(withOneLine: "\(error)")
        }
        let projector = Projector(conninfo: config.conninfo, policy: auditPolicy, logger: logger)
        let projectorStopped = Self.worker("consultd.projector") { projector.run(shouldStop: { stopping.current }) }
        if key == nil {
            logger.warning("no signing key: this server signs no checkpoints and gives no receipts (make one with `consultctl keys generate` and pass --signing-key; docs/TRUST.md)")
        }
        if key != nil && origin == nil {
            logger.warning("no --log-origin: checkpoints are signed in the first format (consultd-checkpoint-v1), which witnesses cannot cosign; choose the log's origin once with --log-origin (docs/TRUST.md)")
        }
        let submitter = witnesses.isEmpty || noNotary ? nil : WitnessSubmitter(conninfo: config.conninfo, witnesses: witnesses, logger: logger)
        submitter?.start()
        // Nothing signed that a failover could take away: only what the synchronous standby flushed.
        let required = requireSynchronousStandby
        let timeout = databaseTimeout
        let notary = Notary(
            conninfo: config.conninfo, key: key, interval: checkpointInterval, logger: logger, timeout: databaseTimeout, origin: origin,
            witnesses: submitter, confirmed: { try SynchronousStandby.waitUntilConfirmed($0, required: required, timeout: timeout) })
        let notaryStopped = noNotary ? nil : Self.worker("consultd.notary") { notary.run(shouldStop: { stopping.current }) }
        let lag = ProjectionLag(conninfo: config.conninfo, timeout: databaseTimeout)
        let probe = HealthProbe(timeout: databaseTimeout, measure: {
            let (events, seconds) = try lag.read()
            return HealthProbe.Lag(events: events, seconds: seconds)
        }, close: lag.close)
        probe.start()
        var http: HTTPEndpoint?
        var httpBound: UInt16?
        if let httpPort {
            let publisher = TilePublisher(conninfo: config.conninfo, policy: config.witnessPolicy)
            let endpoint = Self.operatorEndpoint(
                host: httpHost, port: httpPort, server: server, probe: probe, metrics: metrics, config: config, publisher: publisher)
            do { httpBound = try endpoint.start() } catch { Self.exit(withOneLine: "\(error)") }
            http = endpoint
        }
        var ready: Logger.Metadata = [
            "listening": "\(host):\(bound.port)", "schema_version": "\(Schema.requiredVersion)", "version": "\(ConsultdVersion.description)",
        ]
        if let httpBound { ready["http"] = "\(httpHost):\(httpBound)" }
        ready["signing"] = key.map { noNotary ? "off (--no-notary)" : "key \($0.publicKey.id)" } ?? "off"
        if let origin { ready["origin"] = "\(origin)" }
        if !witnesses.isEmpty { ready["witnesses"] = "\(quorum) of \(witnesses.count)" }
        if bound.portSpeaksTLS { ready["tls"] = "on" }
        if let tlsPort = bound.tlsPort {
            ready["listening_tls"] = "\(tlsHost ?? host):\(tlsPort)"
            ready["tls"] = requireTls ? "required" : "on"
        }
        logger.info("ready", metadata: ready)
        systemd.notify("READY=1")
        let watchdog = systemd.watchdogInterval.map { interval in
            Self.watchdog(every: interval, systemd: systemd, server: server)
        }

        withExtendedLifetime(sources) { stopRequested.wait() }
        watchdog?.cancel()
        // In order: stop accepting and answer what was taken; then the projector (it finishes the
        // write it is in, if any); then return, which ends the process.
        server.stop()
        http?.stop()
        probe.stop(timeout: databaseTimeout)
        logger.info("server stopped; stopping the projector")
        // The projector and the notary share one deadline (each finishes the write it is in).
        let workersDeadline = DispatchTime.now() + config.shutdownTimeout
        if projectorStopped.wait(timeout: workersDeadline) == .timedOut {
            logger.warning("the projector did not stop in time")
        } else {
            logger.info("projector stopped")
        }
        if notaryStopped?.wait(timeout: workersDeadline) == .timedOut {
            logger.warning("the notary did not stop in time")
        }
        submitter?.stop(deadline: workersDeadline)
        logger.info("stopped")
    }

    /// The operator's HTTP endpoint: `/health` (the process answers), `/ready` (accepting and the
    /// database reachable: what a load balancer checks), `/metrics` (Prometheus text format); and for
    /// outsiders `/checkpoint` and `/tile/…` (docs/TRUST.md, "Proofs for outsiders").
    static func operatorEndpoint(
        host: String, port: UInt16, server: Server, probe: HealthProbe, metrics: DaemonMetrics, config: ServerConfig,
        publisher: TilePublisher
    ) -> HTTPEndpoint {
        HTTPEndpoint(host: host, port: port) { _, path in
            switch path {
            case "/health":
                return .init(status: 200, text: "alive\n")
            case "/ready":
                if !server.isAccepting { return .init(status: 503, text: "not ready: not accepting connections\n") }
                if !probe.databaseUp { return .init(status: 503, text: "not ready: the database does not answer\n") }
                return .init(status: 200, text: "ready\n")
            case "/metrics":
                let state = probe.current
                var snapshot = DaemonMetrics.Snapshot()
                (snapshot.unauthenticatedConnections, snapshot.authenticatedConnections) = server.connectionStates
                snapshot.queuedBytes = server.queuedBytes
                snapshot.queueLimitBytes = config.maxQueuedBytes
                snapshot.projectionLagEvents = state.lagEvents
                snapshot.projectionLagSeconds = state.lagSeconds
                snapshot.databaseUp = probe.databaseUp
                snapshot.ready = server.isAccepting && snapshot.databaseUp
                return .init(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render(snapshot))
            default:
                if let answer = publisher.answer(path: path) {
                    return .init(
                        status: answer.status, contentType: answer.contentType, body: answer.body,
                        cacheControl: answer.immutable ? "public, max-age=31536000, immutable" : "no-cache")
                }
                return .init(status: 404, text: "not found: /metrics, /health, /ready, /checkpoint, /tile/…\n")
            }
        }
    }

    /// systemd's watchdog: WATCHDOG=1 every `interval` (half of $WATCHDOG_USEC), each sent only
    /// after the accept queue answered, so that a wedged daemon stops them and systemd restarts it.
    static func watchdog(every interval: Double, systemd: SystemdNotifier, server: Server) -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "consultd.watchdog"))
        timer.setEventHandler {
            server.heartbeat()
            systemd.notify("WATCHDOG=1")
        }
        timer.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(Int(interval * 100)))
        timer.resume()
        return timer
    }

    /// Runs `body` on a thread of its own; the semaphore is signalled when it returns.
    static func worker(_ name: String, _ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
        let stopped = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            stopped.signal()
        }
        thread.name = name
        thread.start()
        return stopped
    }

    static func exit(withOneLine message: String) -> Never {
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        FileHandle.standardError.write(Data("consultd: \(line)\n".utf8))
        Foundation.exit(1)
    }
}
