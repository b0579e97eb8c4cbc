import DaemonConfiguration
import Dispatch
import Foundation
import Locking
import Logging
import Migrations
import Observability
import Participation
import PostgresClient
import Projections
import Server
import Trust
import Version

/// consultd's services, in the order they start (`lifecycle` stops them in the reverse order):
/// the witness submitter, which the notary hands its checkpoints to; the notary and the projector,
/// threads that watch `stopping`; the health probe; the operator's HTTP endpoint; the line protocol
/// server, opened once everything behind it runs; and last the word to systemd that consultd is
/// ready, with its watchdog. So a stop closes the doors first (the watchdog, the server, which
/// answers what it took and drains its committer, the HTTP endpoint, the probe), then waits for
/// the projector and the notary (each finishes the write it is in) and the submitter.
struct Services {
    let lifecycle = Lifecycle()

    init(
        _ settings: DaemonConfiguration, server: Server, key: SigningKey?, origin: String?, auditPolicy: Policy, metrics: DaemonMetrics,
        systemd: SystemdNotifier, stopping: Locked<Bool>, logger: Logger
    ) {
        let config = settings.server
        // The projector, the notary and the submitter share one deadline, from when the first of
        // them is waited for (once the server has stopped).
        let workersDeadline = LazyDeadline(seconds: config.shutdownTimeout)

        let submitter = settings.witnesses.isEmpty || !settings.keepsNotary
            ? nil : WitnessSubmitter(conninfo: config.conninfo, witnesses: settings.witnesses, logger: logger)
        if let submitter {
            lifecycle.add("witness submitter", start: submitter.start, stop: { submitter.stop(deadline: workersDeadline.value) })
        }

        if settings.keepsNotary {
            // Nothing signed that a failover could take away: only what the synchronous standby flushed.
            let required = config.requireSynchronousStandby
            let timeout = config.databaseTimeout
            let notary = Notary(
                conninfo: config.conninfo, key: key, interval: settings.checkpointInterval, logger: logger, timeout: timeout,
                origin: origin, witnesses: submitter,
                confirmed: { try SynchronousStandby.waitUntilConfirmed($0, required: required, timeout: timeout) })
            let worker = Worker("consultd.notary") { notary.run(shouldStop: { stopping.current }) }
            lifecycle.add("notary", start: worker.start) {
                if worker.wait(until: workersDeadline.value) == .timedOut { logger.warning("the notary did not stop in time") }
            }
        }

        let projector = Projector(conninfo: config.conninfo, policy: auditPolicy, logger: logger)
        let projectorWorker = Worker("consultd.projector") { projector.run(shouldStop: { stopping.current }) }
        lifecycle.add("projector", start: projectorWorker.start) {
            logger.info("server stopped; stopping the projector")
            if projectorWorker.wait(until: workersDeadline.value) == .timedOut {
                logger.warning("the projector did not stop in time")
            } else {
                logger.info("projector stopped")
            }
        }

        let lag = ProjectionLag(conninfo: config.conninfo, timeout: config.databaseTimeout)
        let probe = HealthProbe(timeout: config.databaseTimeout, measure: {
            let (events, seconds) = try lag.read()
            return HealthProbe.Lag(events: events, seconds: seconds)
        }, close: lag.close)
        lifecycle.add("health probe", start: probe.start) { probe.stop(timeout: config.databaseTimeout) }

        var httpBound: UInt16?
        if let httpPort = settings.httpPort {
            let publisher = TilePublisher(conninfo: config.conninfo, policy: config.witnessPolicy)
            let endpoint = Self.operatorEndpoint(
                host: settings.httpHost, port: httpPort, server: server, probe: probe, metrics: metrics, config: config, publisher: publisher)
            lifecycle.add("operator HTTP endpoint", start: { httpBound = try endpoint.start() }, stop: endpoint.stop)
        }

        var bound: ServerPorts?
        lifecycle.add("line protocol server", start: { bound = try server.start() }, stop: server.stop)

        var watchdog: DispatchSourceTimer?
        lifecycle.add(
            "readiness",
            start: {
                if let bound {
                    logger.info("ready", metadata: Self.ready(settings, bound: bound, http: httpBound, key: key, origin: origin))
                }
                systemd.notify("READY=1")
                watchdog = systemd.watchdogInterval.map { interval in Self.watchdog(every: interval, systemd: systemd, server: server) }
            },
            stop: { watchdog?.cancel() })
    }

    /// The "ready" line's fields: where consultd listens and what it signs with.
    static func ready(_ settings: DaemonConfiguration, bound: ServerPorts, http: UInt16?, key: SigningKey?, origin: String?) -> Logger.Metadata {
        let config = settings.server
        var ready: Logger.Metadata = [
            "listening": "\(config.host):\(bound.port)", "schema_version": "\(Schema.requiredVersion)", "version": "\(ConsultdVersion.description)",
        ]
        if let http { ready["http"] = "\(settings.httpHost):\(http)" }
        ready["signing"] = key.map { settings.keepsNotary ? "key \($0.publicKey.id)" : "off (--no-notary)" } ?? "off"
        if let origin { ready["origin"] = "\(origin)" }
        if !settings.witnesses.isEmpty { ready["witnesses"] = "\(settings.witnessQuorum) of \(settings.witnesses.count)" }
        if bound.portSpeaksTLS { ready["tls"] = "on" }
        if let tlsPort = bound.tlsPort {
            ready["listening_tls"] = "\(config.tls?.host ?? config.host):\(tlsPort)"
            ready["tls"] = config.tls?.required == true ? "required" : "on"
        }
        return ready
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
}

/// A body run on a thread of its own once started; `wait` returns when the body has returned, or
/// at the deadline.
final class Worker: Sendable {
    private let name: String
    private let body: @Sendable () -> Void
    private let stopped = DispatchSemaphore(value: 0)

    init(_ name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    func start() {
        let thread = Thread { [body, stopped] in
            body()
            stopped.signal()
        }
        thread.name = name
        thread.start()
    }

    func wait(until deadline: DispatchTime) -> DispatchTimeoutResult {
        stopped.wait(timeout: deadline)
    }
}

/// A deadline `seconds` after it is first read.
final class LazyDeadline {
    private let seconds: Double
    private var fixed: DispatchTime?

    init(seconds: Double) { self.seconds = seconds }

    var value: DispatchTime {
        if let fixed { return fixed }
        let deadline = DispatchTime.now() + seconds
        fixed = deadline
        return deadline
    }
}
