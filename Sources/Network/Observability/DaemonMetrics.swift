
/// What the daemon counts and measures, exposed on `GET /metrics` in Prometheus's text format
/// (docs/OPERATIONS.md lists every series).
///
/// Counters and histograms are updated where things happen (the committer, the connections);
/// gauges that describe a state (connections, queue, projection lag, the database) are read from
/// `Snapshot` at each scrape, so that nothing has to keep them current in between.
public final class DaemonMetrics: Sendable {
    /// What a write (SUBMIT or WITHDRAW) came to; the `outcome` label.
    public enum Outcome: String, Sendable, CaseIterable {
        /// Stored now, or by an earlier request with the same key and content (a retry).
        case stored
        case conflict
        case notFound = "not_found"
        /// Refused by the rules (invalid body, consultation closed or unknown) or by the database's checks.
        case refused
        /// Queue full or the database unreachable: nothing stored.
        case busy
        case shuttingDown = "shutting_down"
        case failed
    }

    /// Which verb a write was; the `verb` label.
    public enum Verb: String, Sendable, CaseIterable {
        case submit, withdraw
    }

    /// The state gauges, as they are at a scrape.
    public struct Snapshot: Sendable {
        public var unauthenticatedConnections = 0
        public var authenticatedConnections = 0
        public var queuedBytes = 0
        public var queueLimitBytes = 0
        /// Nil until the first probe of the database answered.
        public var projectionLagEvents: Int64?
        public var projectionLagSeconds: Double?
        public var databaseUp = false
        public var ready = false

        public init() {}
    }

    private let exposition = Exposition()

    public init(version: String, commit: String) {
        let e = exposition
        e.declare("consultd_writes_total", .counter, help: "SUBMIT and WITHDRAW requests decided (answered, or stored for a client already gone), by what became of them.",
                  labels: ["verb", "outcome"])
        for verb in Verb.allCases {
            for outcome in Outcome.allCases { e.initialise("consultd_writes_total", [verb.rawValue, outcome.rawValue]) }
        }
        e.declare("consultd_batch_size", .histogram, help: "Writes per transaction of the group committer.",
                  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
        e.initialise("consultd_batch_size")
        e.declare("consultd_commit_duration_seconds", .histogram,
                  help: "Time from taking a batch to its commit returning (checks, sealing, the append, the commit).",
                  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
        e.initialise("consultd_commit_duration_seconds")
        e.declare("consultd_connections", .gauge, help: "Open client connections on the protocol ports, by state.", labels: ["state"])
        e.declare("consultd_queue_bytes", .gauge, help: "Bytes of writes waiting for the group committer (all connections).")
        e.declare("consultd_queue_limit_bytes", .gauge, help: "--max-queued-bytes: beyond it writes are answered ERR BUSY.")
        e.declare("consultd_projection_lag_events", .gauge, help: "Events in the log that the projection tables do not reflect yet.")
        e.declare("consultd_projection_lag_seconds", .gauge,
                  help: "Age of the oldest event the projection tables do not reflect yet (0 when caught up).")
        e.declare("consultd_database_up", .gauge, help: "1 when PostgreSQL answered the last probes in time, else 0.")
        e.declare("consultd_ready", .gauge, help: "1 when /ready answers 200: accepting connections and the database reachable.")
        e.declare("consultd_build_info", .gauge, help: "The running build; always 1.", labels: ["version", "commit"])
        e.set("consultd_build_info", [version, commit], 1)
    }

    /// Counts one answered write.
    public func write(_ verb: Verb, _ outcome: Outcome) {
        exposition.add("consultd_writes_total", [verb.rawValue, outcome.rawValue])
    }

    /// Records one committed (or failed) batch of the group committer.
    public func batch(size: Int, seconds: Double) {
        exposition.observe("consultd_batch_size", [], Double(size))
        exposition.observe("consultd_commit_duration_seconds", [], seconds)
    }

    /// The text exposition (format 0.0.4), with the state gauges set from `snapshot`.
    public func render(_ snapshot: Snapshot) -> [UInt8] {
        let e = exposition
        e.set("consultd_connections", ["unauthenticated"], Double(snapshot.unauthenticatedConnections))
        e.set("consultd_connections", ["authenticated"], Double(snapshot.authenticatedConnections))
        e.set("consultd_queue_bytes", [], Double(snapshot.queuedBytes))
        e.set("consultd_queue_limit_bytes", [], Double(snapshot.queueLimitBytes))
        // Unknown (no probe answered yet) is NaN rather than a reassuring 0.
        e.set("consultd_projection_lag_events", [], snapshot.projectionLagEvents.map(Double.init) ?? .nan)
        e.set("consultd_projection_lag_seconds", [], snapshot.projectionLagSeconds ?? .nan)
        e.set("consultd_database_up", [], snapshot.databaseUp ? 1 : 0)
        e.set("consultd_ready", [], snapshot.ready ? 1 : 0)
        return Array(e.render().utf8)
    }
}
