import EventLog
import Foundation
import Locking
import Logging
import PostgresClient

/// Notices that the database behind the (multi-host) URL is another server than before: a standby
/// promoted by the failover engine, or the primary restarted. What the daemon derived from the old
/// one may be ahead of the new one (events it committed locally that the standby never had), so the
/// registry is rebuilt from the new primary before any session goes on to serve a request.
///
/// Every database session of the server (committer, readers, registry follower) reports each new
/// connection here (`Connection.onReconnect`), before its caller's statement runs. The projector and
/// the notary need no watch: their leader sessions never reconnect silently, and each leadership
/// begins by restoring its state (fold, tree frontier, last signed size) from the database it is on.
///
/// `@unchecked Sendable`: its state is behind `Locked`.
final class FailoverWatch: @unchecked Sendable {
    private let registry: SharedRegistry
    private let logger: Logger
    private let state = Locked<(identity: String?, changes: Int)>((nil, 0))

    init(registry: SharedRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// How many times another server was found since start.
    var changes: Int { state.current.changes }

    /// Reads who `connection` is talking to; when another server than before, resets the registry
    /// (atomically with noting the new identity, so no session uses the old registry against the new
    /// server) and catches it up over `connection`.
    func observe(_ connection: Connection) throws {
        let identity = try SynchronousStandby.identity(connection)
        let previous = state.withLock { state -> String?? in
            guard state.identity != identity else { return .none }
            defer { state.identity = identity }
            if state.identity != nil {
                state.changes += 1
                registry.reset()
            }
            return .some(state.identity)
        }
        guard case .some(let old?) = previous else { return }
        logger.warning(
            "the database is another server than before (failover or restart): rebuilding the registry from it",
            metadata: ["before": "\(old)", "now": "\(identity)"])
        let rebuilt = try registry.catchUp(EventStore(connection: connection))
        logger.notice("registry rebuilt from the new primary", metadata: ["position": "\(rebuilt.position)"])
    }

    /// Opens a connection watched from the start.
    func connect(_ conninfo: String, options: SessionOptions) throws -> Connection {
        let connection = try Connection(conninfo, options: options)
        try observe(connection)
        connection.onReconnect = { [self] in try observe($0) }
        return connection
    }
}
