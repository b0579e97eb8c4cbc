import Foundation
import PostgresClient

/// Asks PostgreSQL, once per `interval` on a thread of its own, whether it answers and how far the
/// projection trails the log. `/ready` and `/metrics` read the last answer and never wait on the
/// database themselves, so a slow or stopped database cannot hold an HTTP request (or its socket).
///
/// `@unchecked Sendable`: `state` is behind a lock; `connection` is used by the probe's thread only.
public final class HealthProbe: @unchecked Sendable {
    /// The last probe's findings.
    public struct State: Sendable {
        /// When the database last answered (monotonic seconds); nil: never.
        public var lastAnswer: Double?
        public var lagEvents: Int64?
        public var lagSeconds: Double?
    }

    private let conninfo: String
    private let interval: Double
    private let timeout: Double
    private let condition = NSCondition()
    private var state = State()
    private var stopping = false
    private var connection: Connection?
    private let stopped = DispatchSemaphore(value: 0)

    public init(conninfo: String, interval: Double = 1, timeout: Double) {
        self.conninfo = conninfo
        self.interval = interval
        self.timeout = timeout
    }

    /// Monotonic seconds.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Whether the database answered within the last three intervals plus one call's timeout (a probe
    /// that is itself still waiting does not make an answer stale before its time is up).
    public var databaseUp: Bool {
        guard let last = current.lastAnswer else { return false }
        return Self.now() - last <= 3 * interval + timeout
    }

    public var current: State {
        condition.lock()
        defer { condition.unlock() }
        return state
    }

    /// Probes once now (so that `/ready` is right from the start), then every `interval` on a thread.
    public func start() {
        probe()
        let thread = Thread { [self] in
            while true {
                condition.lock()
                // Waits for the next probe or for `stop`, whichever comes first, on the monotonic
                // clock: a wall clock stepped back must not delay probes until /ready says 503.
                let deadline = Self.now() + interval
                while !stopping && Self.now() < deadline { _ = condition.wait(until: Date().addingTimeInterval(deadline - Self.now())) }
                let done = stopping
                condition.unlock()
                if done { break }
                probe()
            }
            connection?.close()
            connection = nil
            stopped.signal()
        }
        thread.name = "consultd.health"
        thread.start()
    }

    public func stop(timeout: Double) {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        _ = stopped.wait(timeout: .now() + timeout)
    }

    private func probe() {
        do {
            if connection == nil { connection = try Connection(conninfo, options: .bounded(timeout)) }
            // The checkpoint names the last position projected; the next event's age is how stale the
            // views are (none: caught up).
            let row = try connection!.execute(
                """
                SELECT (SELECT coalesce(max(position), 0) FROM consult.events) - c.position AS lag_events,
                       coalesce((SELECT extract(epoch FROM clock_timestamp() - e.recorded_at)::float8
                                   FROM consult.events e WHERE e.position = c.position + 1), 0) AS lag_seconds
                  FROM consult.projection_checkpoint c WHERE c.name = 'metrics'
                """
            ).first
            let answered = Self.now()
            let events: Int64? = try row?.get("lag_events")
            let seconds: Double? = try row?.get("lag_seconds")
            condition.lock()
            state = State(lastAnswer: answered, lagEvents: events, lagSeconds: seconds.map { max(0, $0) })
            condition.unlock()
        } catch {
            // Unanswered: `databaseUp` turns false once the last answer is stale. A new session next time.
            connection?.close()
            connection = nil
        }
    }
}
