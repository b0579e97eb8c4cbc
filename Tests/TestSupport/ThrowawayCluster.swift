import Foundation

/// A second PostgreSQL cluster of the test's own (initdb and pg_ctl into a temporary folder, on a
/// free loopback port), for tests that need a *new* server: restoring a backup, as an operator would
/// after losing the first. As root it runs as `postgres`, as PostgreSQL requires. `stop` removes it.
public final class ThrowawayCluster {
    public let port: UInt16
    public let folder: URL
    /// The superuser, the same name as the test cluster's (so a dump's owners exist here too).
    public let superuser: String
    let bin: String
    let asOwner: [String]

    public init() throws {
        guard let bin = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }.last.map({ "/usr/lib/postgresql/\($0)/bin" })
        else { throw TestEnvironmentError(description: "no PostgreSQL under /usr/lib/postgresql (scripts/install-deps)") }
        self.bin = bin
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        superuser = ProcessInfo.processInfo.environment["PGUSER"] ?? NSUserName()
        if getuid() == 0 {
            asOwner = ["/usr/sbin/runuser", "-u", "postgres", "--"]
            let chown = try TestDatabase.run("/bin/chown", ["postgres:", folder.path])
            guard chown.status == 0 else { throw TestEnvironmentError(description: "chown: \(chown.stderr)") }
        } else {
            asOwner = []
        }
        port = try Self.freePort()
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
    public func program(_ name: String) -> String { "\(bin)/\(name)" }

    public func stop() {
        _ = try? run("pg_ctl", ["-D", folder.appendingPathComponent("data").path, "-w", "stop", "-m", "fast"])
        try? FileManager.default.removeItem(at: folder)
    }

    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let command = asOwner + [self.program(program)] + arguments
        let result = try TestDatabase.run(command[0], Array(command.dropFirst()))
        guard result.status == 0 else {
            let log = (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw TestEnvironmentError(description: "\(program) failed: \(result.stderr) \(log)")
        }
        return result.stdout
    }

    /// A port nothing listens on now: the kernel's pick for a socket bound to port 0.
    public static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestEnvironmentError(description: "no free port") }
        return UInt16(bigEndian: address.sin_port)
    }
}
