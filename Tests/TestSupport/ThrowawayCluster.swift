import Foundation

/// A second PostgreSQL cluster of the test's own (initdb and pg_ctl into a temporary folder, on a
/// free loopback port), for tests that need a *new* server: restoring a backup, as an operator would
/// after losing the first. As root it runs as `postgres`, as PostgreSQL requires. `stop` removes it.
public final class ThrowawayCluster {
    public let port: UInt16
    private let home: ClusterHome
    public var folder: URL { home.folder }
    /// The superuser, the same name as the test cluster's (so a dump's owners exist here too).
    public var superuser: String { home.superuser }

    public init() throws {
        home = try ClusterHome(prefix: "consultd-cluster")
        port = try LoopbackPort.free()
        try run("initdb", ["-D", folder.appendingPathComponent("data").path, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C"])
        try run("pg_ctl", [
            "-D", folder.appendingPathComponent("data").path, "-l", folder.appendingPathComponent("server.log").path, "-w", "start",
            "-o", "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1",
        ])
    }

    /// libpq parameters for `database` on this cluster, as the superuser.
    public func conninfo(_ database: String) -> String {
        "host=127.0.0.1 port=\(port) user=\(superuser) dbname=\(database)"
    }

    /// Environment that points libpq tools (psql, pg_restore, consultctl) at this cluster.
    public var environment: [String: String] {
        ["PGHOST": "127.0.0.1", "PGPORT": String(port), "PGUSER": superuser, "PGDATABASE": "postgres"]
    }

    /// The path of a PostgreSQL program of the same version as the server.
    public func program(_ name: String) -> String { "\(home.bin)/\(name)" }

    public func stop() {
        _ = try? run("pg_ctl", ["-D", folder.appendingPathComponent("data").path, "-w", "stop", "-m", "fast"])
        try? FileManager.default.removeItem(at: folder)
    }

    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let result = try home.run(program, arguments)
        guard result.status == 0 else {
            let log = (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw TestEnvironmentError(description: "\(program) failed: \(result.stderr) \(log)")
        }
        return result.stdout
    }
}
