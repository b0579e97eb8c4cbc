import Foundation
import Migrations
import PostgresClient

/// Why a test could not get the real PostgreSQL it needs: a failure, never a skip.
public struct TestEnvironmentError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Fresh databases on the throwaway cluster that `scripts/with-postgres` starts for the test run.
public enum TestDatabase {
    static let environment = ProcessInfo.processInfo.environment

    /// The repository root, found from this file's place in it.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var schemaDirectory: URL { repositoryRoot.appendingPathComponent("schema") }

    /// A master key for this test run (consultd requires one; consultctl needs one to write feedback):
    /// given to every daemon and every program `run` starts, unless a test gives its own.
    public static let masterKeyFile: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-test-master-\(UUID().uuidString).key").path
        var generator = SystemRandomNumberGenerator()
        let raw = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        FileManager.default.createFile(
            atPath: path, contents: Data("consultd-master-key-v1 \(raw.base64EncodedString())\n".utf8), attributes: [.posixPermissions: 0o600])
        return path
    }()

    /// Checks that the PG* variables name a server; fails with a message that says what to do.
    public static func requireServer() throws {
        guard environment["PGHOST"] != nil, environment["PGPORT"] != nil else {
            throw TestEnvironmentError(
                description: "no PostgreSQL for the tests: PGHOST/PGPORT are not set. Run the tests with "
                    + "`scripts/test` (it starts a throwaway server), or wrap them in `scripts/with-postgres`.")
        }
    }

    /// Creates an empty database with a unique name and returns its conninfo (the rest from PG*).
    public static func fresh(migrated: Bool = true) throws -> String {
        try requireServer()
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try Connection("dbname=postgres")
        // CREATE DATABASE takes no parameters; the name is generated above from hex digits only.
        try admin.executeScript("CREATE DATABASE \(name)")
        admin.close()
        let conninfo = "dbname=\(name)"
        if migrated {
            let connection = try Connection(conninfo)
            try Migrator(directory: schemaDirectory).migrate(connection)
        }
        return conninfo
    }

    /// Restarts the test server (`pg_ctl restart -m fast`), waiting until it accepts connections.
    public static func restartServer() throws {
        guard let pgctl = environment["CONSULT_TEST_PGCTL"] else {
            throw TestEnvironmentError(description: "CONSULT_TEST_PGCTL is not set: run the tests with `scripts/test`")
        }
        let result = try run(pgctl, ["restart", "-m", "fast"])
        guard result.status == 0 else {
            throw TestEnvironmentError(description: "pg_ctl restart failed: \(result.stderr)")
        }
    }

    /// Where `swift build` put the executables (`consultd`, `consultctl`).
    public static func executable(_ name: String) throws -> String {
        let folder = environment["CONSULT_BIN_DIR"]
            ?? repositoryRoot.appendingPathComponent(".build/debug").path
        let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestEnvironmentError(description: "\(path) is not built: run the tests with `scripts/test`")
        }
        return path
    }

    /// Runs a program to completion and returns its exit status and output.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: its waitUntilExit was seen to miss
    /// the exit of a child that itself forks (runuser running pg_ctl) and hang. Output goes to files,
    /// so a chatty child can never block on a full pipe.
    public static func run(_ path: String, _ arguments: [String], environment extra: [String: String] = [:])
        throws -> (status: Int32, stdout: String, stderr: String)
    {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-run-\(UUID().uuidString)")
        let outPath = base.path + ".out"
        let errPath = base.path + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.merging(["CONSULT_MASTER_KEY_FILE": masterKeyFile]) { $1 }.merging(extra) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw TestEnvironmentError(description: "cannot start \(path): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import: a signal shows as 128 + its number.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let read = { (file: String) in (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
        return (exitStatus, read(outPath), read(errPath))
    }

    /// A description of everything the migrations create, to compare two databases' states.
    public static func catalogSnapshot(_ connection: Connection) throws -> [String] {
        try connection.execute(
            """
            SELECT entry FROM (
                SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') AS entry
                  FROM pg_namespace WHERE nspname IN ('consult', 'analytics')
                UNION ALL
                SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '')
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname IN ('consult', 'analytics')
                UNION ALL
                SELECT 'function ' || p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '')
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname IN ('consult', 'analytics')
                UNION ALL
                SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
                UNION ALL
                SELECT 'migration ' || version || ' ' || name FROM consult.schema_migrations
            ) catalog ORDER BY entry
            """
        ).rows.map { try $0.get("entry") }
    }
}
