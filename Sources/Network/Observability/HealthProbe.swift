import Foundation

/// Asks the database, once per `interval` on a thread of its own, whether it answers and how far the
/// projection trails the log, through `measure` (the daemon gives it the projector's own query: this
/// module runs no SQL). `/ready` and `/metrics` read the last answer and never wait on the database
/// themselves, so a slow or stopped database cannot hold an HTTP request (or its socket).
///
/// `@unchecked Sendable`: `state` is behind a lock; `measure` and `close` run on the probe's thread only.
public final class HealthProbe: @unchecked Sendable {
    /// One answer: how many events the projection trails the log by, and how old the first of them is.
    public struct Lag: Sendable {
        public var events: Int64?
        public var seconds: Double?

        public init(events: Int64?, seconds: Double?) {
            self.events = events
            self.seconds = seconds
        }
    }

    /// The last probe's findings.
    public struct State: Sendable {
        /// When the database last answered (monotonic seconds); nil: never.
        public var lastAnswer: Double?
        public var lagEvents: Int64?
        public var lagSeconds: Double?
    }

    private let measure: @Sendable () throws -> Lag
    private let close: @Sendable () -> Void
    private let interval: Double
    private let timeout: Double
    private let condition = NSCondition()
    private var state = State()
    private var stopping = false
    private let stopped = DispatchSemaphore(value: 0)

    /// `measure` answers within `timeout` seconds or throws (an unanswered probe); `close` releases
    /// what it holds when the probe stops.
    public init(interval: Double = 1, timeout: Double, measure: @escaping @Sendable () throws -> Lag, close: @escaping @Sendable () -> Void = {}) {
        self.measure = measure
        self.close = close
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
            close()
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
        // Unanswered (it threw): `databaseUp` turns false once the last answer is stale.
        guard let lag = try? measure() else { return }
        let answered = Self.now()
        condition.lock()
        state = State(lastAnswer: answered, lagEvents: lag.events, lagSeconds: lag.seconds.map { max(0, $0) })
        condition.unlock()
    }
}
