import Foundation

/// A temporary folder for PostgreSQL servers of a test's own, and how to run the newest installed
/// PostgreSQL's programs on it: as `postgres` when the test runs as root (PostgreSQL refuses to
/// run as root), which then owns the folder.
struct ClusterHome {
    /// The folder of the PostgreSQL programs (initdb, pg_ctl, …).
    let bin: String
    let folder: URL
    /// The superuser, the same name as the test cluster's (so a dump's owners exist here too).
    let superuser: String
    /// What runs a command as the folder's owner; empty when that is the test's own user.
    let asOwner: [String]

    /// Makes a new folder in the temporary directory, named `prefix` and a random suffix.
    init(prefix: String) throws {
        guard let bin = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
            .sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }).last.map({ "/usr/lib/postgresql/\($0)/bin" })
        else { throw TestEnvironmentError(description: "no PostgreSQL under /usr/lib/postgresql (scripts/install-deps)") }
        self.bin = bin
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        superuser = ProcessInfo.processInfo.environment["PGUSER"] ?? NSUserName()
        if getuid() == 0 {
            asOwner = ["/usr/sbin/runuser", "-u", "postgres", "--"]
            let chown = try TestDatabase.run("/bin/chown", ["postgres:", folder.path])
            guard chown.status == 0 else { throw TestEnvironmentError(description: "chown: \(chown.stderr)") }
        } else {
            asOwner = []
        }
    }

    /// Runs `program` (a PostgreSQL program's name, or an absolute path) as the folder's owner.
    func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let command = asOwner + [program.hasPrefix("/") ? program : "\(bin)/\(program)"] + arguments
        return try TestDatabase.run(command[0], Array(command.dropFirst()))
    }
}
