import Foundation
import PostgresClient

/// Two PostgreSQL servers of the test's own, a primary and a synchronous standby (streaming
/// replication, `synchronous_standby_names` naming the standby, fsync and synchronous_commit on),
/// made by hand with initdb, pg_basebackup and pg_ctl. The test plays the failover engine: it kills
/// or freezes the primary, promotes the standby (`pg_ctl promote`), and has the old primary rejoin
/// as the new one's synchronous standby (cloned afresh with pg_basebackup), as pg_auto_failover or
/// Patroni would.
/// As root it runs as `postgres`, as PostgreSQL requires. `stop` removes both.
public final class SynchronousPair: @unchecked Sendable {
    /// One server of the pair; its `name` is its `application_name` as a standby.
    public final class Node: @unchecked Sendable {
        public let name: String
        public let port: UInt16
        public let data: String
        init(name: String, port: UInt16, folder: URL) {
            self.name = name
            self.port = port
            data = folder.appendingPathComponent(name).path
        }
    }

    public let nodes: [Node]
    private let home: ClusterHome
    public var folder: URL { home.folder }
    public var superuser: String { home.superuser }
    /// The node that is primary now.
    public private(set) var primary: Node
    /// The primary last lost (`failPrimary`), to rejoin.
    var lost: Node?
    public var standby: Node { nodes.first { $0 !== primary }! }

    public init() throws {
        home = try ClusterHome(prefix: "consultd-pair")
        nodes = [Node(name: "node_a", port: try LoopbackPort.free(), folder: home.folder),
                 Node(name: "node_b", port: try LoopbackPort.free(), folder: home.folder)]
        primary = nodes[0]
        let a = nodes[0]
        try run("initdb", ["-D", a.data, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C"])
        try write(
            """
            listen_addresses = '127.0.0.1'
            max_connections = 300
            fsync = on
            synchronous_commit = on
            wal_level = replica
            wal_log_hints = on
            max_wal_senders = 10
            max_replication_slots = 10
            hot_standby = on
            wal_keep_size = '256MB'

            """, appendingTo: a.data + "/postgresql.conf")
        try start(a)
        let b = nodes[1]
        try run("pg_basebackup", ["-D", b.data, "-h", "127.0.0.1", "-p", String(a.port), "-U", superuser, "-X", "stream", "-c", "fast"])
        try follow(b, primary: a)
        try makeSynchronous(standby: b, on: a)
    }

    /// libpq parameters for `database` on one node, as the superuser.
    public func conninfo(_ database: String, on node: Node) -> String {
        "host=127.0.0.1 port=\(node.port) user=\(superuser) dbname=\(database)"
    }

    /// The multi-host conninfo consultd is given: both nodes, the one that accepts writes.
    public func multiHost(_ database: String) -> String {
        "host=127.0.0.1,127.0.0.1 port=\(nodes[0].port),\(nodes[1].port) user=\(superuser) dbname=\(database) target_session_attrs=read-write"
    }

    /// The postmaster's pid and its children's (every backend), read from postmaster.pid.
    public func processes(of node: Node) throws -> [pid_t] {
        let text = try String(contentsOfFile: node.data + "/postmaster.pid", encoding: .utf8)
        guard let postmaster = text.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw TestEnvironmentError(description: "cannot read \(node.data)/postmaster.pid")
        }
        let children = try TestDatabase.run("/usr/bin/pgrep", ["-P", String(postmaster)]).stdout
            .split(separator: "\n").compactMap { pid_t($0) }
        return [postmaster] + children
    }

    /// Sends `signal` to the node's postmaster and every backend (SIGKILL: the machine is lost;
    /// SIGSTOP: it hangs).
    public func signal(_ node: Node, _ signal: Int32) throws {
        for pid in try processes(of: node) { kill(pid, signal) }
    }

    /// Promotes the standby (waiting until it accepts writes); it is the primary from now on.
    public func promote() throws {
        let target = standby
        try run("pg_ctl", ["-D", target.data, "-w", "promote"])
        primary = target
    }

    /// The old primary, down (killed, or frozen and then killed: fenced), rewinds to the new primary's
    /// history and follows it as its synchronous standby.
    public func rejoin(_ node: Node) throws {
        precondition(node !== primary)
        for pid in (try? processes(of: node)) ?? [] { kill(pid, SIGKILL) }
        // A postmaster killed with its backends leaves postmaster.pid behind: pg_ctl and pg_rewind
        // need it gone once every process has exited.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, let pids = try? processes(of: node), pids.contains(where: { kill($0, 0) == 0 }) {
            Thread.sleep(forTimeInterval: 0.05)  // waiting for killed processes to be reaped; no signal for another's exit
        }
        // Its WAL may hold commits the new primary never had (they are why nothing unconfirmed is
        // acknowledged or signed): it is cloned afresh from the new primary, as the engines do when a
        // rewind is not possible. (pg_rewind left the old primary replaying its own timeline past
        // the fork here, then refusing the new one: "new timeline forked off ... before current
        // recovery point".)
        try run("/bin/rm", ["-rf", node.data])
        try run("pg_basebackup", ["-D", node.data, "-h", "127.0.0.1", "-p", String(primary.port), "-U", superuser, "-X", "stream", "-c", "fast"])
        try follow(node, primary: primary)
        try makeSynchronous(standby: node, on: primary)
    }

    public func stop() {
        for node in nodes {
            _ = try? run("pg_ctl", ["-D", node.data, "-w", "stop", "-m", "immediate"])
        }
        try? FileManager.default.removeItem(at: folder)
    }

    // MARK: Making the pair

    func start(_ node: Node) throws {
        try run("pg_ctl", [
            "-D", node.data, "-l", folder.appendingPathComponent("\(node.name).log").path, "-w", "start",
            "-o", "-p \(node.port) -k \(folder.path)",
        ])
    }

    /// Starts `node` as a standby streaming from `primary` under its own application_name.
    func follow(_ node: Node, primary: Node) throws {
        try write(
            "primary_conninfo = 'host=127.0.0.1 port=\(primary.port) user=\(superuser) application_name=\(node.name)'\n",
            appendingTo: node.data + "/postgresql.auto.conf")
        try write("", appendingTo: node.data + "/standby.signal")
        try start(node)
    }

    /// Names `standby` in the primary's synchronous_standby_names and waits until it streams as sync.
    func makeSynchronous(standby: Node, on primary: Node) throws {
        let admin = try Connection(conninfo("postgres", on: primary))
        try admin.executeScript("ALTER SYSTEM SET synchronous_standby_names = '\(standby.name)'")
        try admin.execute("SELECT pg_reload_conf()")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let state = try admin.execute("SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", [standby.name]).first
            if try state?.get("sync_state", as: String.self) == "sync" { return }
            Thread.sleep(forTimeInterval: 0.05)  // the standby connects on its own time; no signal for it
        }
        let log = (try? String(contentsOf: folder.appendingPathComponent("\(standby.name).log"), encoding: .utf8)) ?? ""
        throw TestEnvironmentError(description: "\(standby.name) did not become the synchronous standby of \(primary.name): \(log.suffix(2_000))")
    }

    func write(_ text: String, appendingTo path: String) throws {
        // As the owner (the data folder is postgres's): `sh -c 'cat >> file'` with the text on stdin
        // would need a pipe; a heredoc-free way is printf through the shell.
        let escaped = text.replacingOccurrences(of: "'", with: "'\\''")
        let result = try home.run("/bin/sh", ["-c", "printf '%s' '\(escaped)' >> '\(path)'"])
        guard result.status == 0 else { throw TestEnvironmentError(description: "cannot write \(path): \(result.stderr)") }
    }

    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let result = try home.run(program, arguments)
        guard result.status == 0 else {
            let logs = nodes.map { (try? String(contentsOf: folder.appendingPathComponent("\($0.name).log"), encoding: .utf8)) ?? "" }
            throw TestEnvironmentError(description: "\(program) failed: \(result.stderr) \(logs.joined(separator: "\n").suffix(3_000))")
        }
        return result.stdout
    }
}
