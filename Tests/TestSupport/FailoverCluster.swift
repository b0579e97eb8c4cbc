import Foundation
import PostgresClient

/// A primary with a synchronous standby that a test can fail over: the hand-made `SynchronousPair`
/// (the test plays the engine), or the Patroni cluster of `scripts/with-ha-postgres` (`PatroniCluster`,
/// chosen when its control script is in the environment).
public protocol FailoverCluster: AnyObject {
    /// Multi-host conninfo for `database` that finds whichever node takes writes.
    func primaryURL(_ database: String) -> String
    /// Conninfo for `database` on the standby (read-only).
    func standbyURL(_ database: String) -> String
    /// Loses the primary: SIGKILL (a lost machine) or SIGSTOP (a hung one).
    func failPrimary(_ signal: Int32) throws
    /// Until the standby is the primary (the test promotes it, or waits for the engine to).
    func failOver() throws
    /// Until the old primary follows the new one as its synchronous standby.
    func rejoin() throws
    func stop()
}

/// The environment's failover cluster: Patroni under `scripts/with-ha-postgres`, else a hand-made pair.
public func makeFailoverCluster() throws -> FailoverCluster {
    if let control = ProcessInfo.processInfo.environment["CONSULT_TEST_HA"] { return try PatroniCluster(control: control) }
    return try SynchronousPair()
}

extension SynchronousPair: FailoverCluster {
    public func primaryURL(_ database: String) -> String { multiHost(database) }
    public func standbyURL(_ database: String) -> String { conninfo(database, on: standby) }
    public func failPrimary(_ signal: Int32) throws {
        lost = primary
        try self.signal(primary, signal)
    }
    public func failOver() throws { try promote() }
    public func rejoin() throws { try rejoin(lost ?? standby) }
}

/// The Patroni cluster `scripts/with-ha-postgres` runs the tests in, driven with its control script
/// (`CONSULT_TEST_HA`): Patroni promotes the standby and rewinds the old primary.
public final class PatroniCluster: FailoverCluster {
    let control: String
    let primary: String
    let standby: String

    init(control: String) throws {
        self.control = control
        let environment = ProcessInfo.processInfo.environment
        guard let primary = environment["CONSULT_DATABASE_URL"], let standby = environment["CONSULT_STANDBY_URL"] else {
            throw TestEnvironmentError(description: "CONSULT_TEST_HA is set but not CONSULT_DATABASE_URL and CONSULT_STANDBY_URL: run under scripts/with-ha-postgres")
        }
        self.primary = primary
        self.standby = standby
        try run("wait-sync", "60")
    }

    /// The URL with its database (the path) replaced.
    static func replacingDatabase(_ url: String, with database: String) -> String {
        guard let slash = url.range(of: "/", options: [], range: url.range(of: "://")!.upperBound..<url.endIndex) else { return url }
        let rest = url[slash.upperBound...]
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        return String(url[..<slash.upperBound]) + database + query
    }

    public func primaryURL(_ database: String) -> String { Self.replacingDatabase(primary, with: database) }
    public func standbyURL(_ database: String) -> String { Self.replacingDatabase(standby, with: database) }
    public func failPrimary(_ signal: Int32) throws { try run(signal == SIGSTOP ? "freeze-primary" : "kill-primary") }
    public func failOver() throws { try run("wait-primary", "60") }
    public func rejoin() throws { try run("rejoin", "120") }
    public func stop() {}

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        let result = try TestDatabase.run(control, arguments)
        guard result.status == 0 else {
            throw TestEnvironmentError(description: "\(control) \(arguments.joined(separator: " ")) failed: \(result.stderr) \(result.stdout)")
        }
        return result.stdout
    }
}
