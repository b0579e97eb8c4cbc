import Domain
import EventLog
import Foundation
import Locking
import Logging
import PostgresClient

/// The registry (organisations, credentials, consultations) shared by every connection. A follower
/// thread keeps it current from the `consult_registry` notifications (migration 004), so AUTH is
/// answered from memory; the committer and CONSULTATIONS still catch it up themselves before an
/// answer that must see a change committed a moment ago.
///
/// `@unchecked Sendable`: its only state is behind `Locked`.
final class SharedRegistry: @unchecked Sendable {
    static let channel = "consult_registry"

    private let state = Locked(Registry())

    var snapshot: Registry { state.current }

    /// Forgets everything (another primary took over: what the old one held may be ahead of it);
    /// the next `catchUp` reads the registry whole from the new one.
    func reset() {
        state.withLock { $0 = Registry() }
    }

    /// Reads the registry's events since its position over `store` (one query) and applies them.
    @discardableResult
    func catchUp(_ store: EventStore) throws -> Registry {
        let from = state.current.position
        let (events, head) = try store.read(after: from, types: Registry.eventTypes)
        return try state.withLock { registry in
            for event in events { try registry.apply(event) }
            registry.advance(to: head)
            return registry
        }
    }
}

/// Follows `consult_registry` and catches the shared registry up on each notification (and every
/// `recheck` seconds, a safety net for notifications lost while reconnecting).
///
/// `@unchecked Sendable`: `stopping` is behind `Locked`; the session is used by its own thread only.
final class RegistryFollower: @unchecked Sendable {
    private let registry: SharedRegistry
    private let watch: FailoverWatch
    private let conninfo: String
    private let timeout: Double
    private let logger: Logger
    private let stopping = Locked(false)
    private let finished = DispatchSemaphore(value: 0)
    private let recheck = 5.0

    init(registry: SharedRegistry, watch: FailoverWatch, conninfo: String, timeout: Double, logger: Logger) {
        self.registry = registry
        self.watch = watch
        self.conninfo = conninfo
        self.timeout = timeout
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "consultd.registry"
        thread.start()
    }

    func stop(timeout: Double) {
        stopping.withLock { $0 = true }
        _ = finished.wait(timeout: .now() + timeout)
    }

    private func run() {
        var connection: Connection?
        var backoff = 0.2
        while !stopping.current {
            do {
                if connection == nil {
                    let opened = try watch.connect(conninfo, options: .bounded(timeout))
                    // Listening begins before the catch-up, so a change after it notifies us.
                    try opened.listen(SharedRegistry.channel)
                    connection = opened
                }
                try registry.catchUp(EventStore(connection: connection!))
                backoff = 0.2
                let deadline = Date().addingTimeInterval(recheck)
                while !stopping.current && Date() < deadline {
                    if try !connection!.waitForNotifications(timeout: 0.5).isEmpty { break }
                }
            } catch {
                logger.warning("registry follower: database trouble; retrying", metadata: ["error": "\(error)"])
                connection = nil
                Thread.sleep(forTimeInterval: backoff)  // backoff before reconnecting, not a synchronisation
                backoff = min(backoff * 2, 5)
            }
        }
    }
}
