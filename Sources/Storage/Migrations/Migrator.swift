import Foundation
import PostgresClient

/// One numbered SQL file from `schema/`.
public struct Migration: Equatable, Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// A file of `schema/functions/` or `schema/privileges/`: applied on every run, not numbered.
public struct SchemaFile: Equatable, Sendable {
    /// Its path inside the schema folder, e.g. `functions/append.sql`.
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// What the code in this build expects of the database.
public enum Schema {
    /// The schema version this build needs: the number of the last file in `schema/`
    /// (a test keeps the two in step).
    public static let requiredVersion = 12

    /// Finds the folder of SQL files: `$CONSULT_SCHEMA_DIR`, else a `schema/` folder beside or above
    /// the running executable (a source checkout's build), else the installed `/usr/share/consultd/schema`.
    public static func locateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let explicit = environment["CONSULT_SCHEMA_DIR"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = folder.appendingPathComponent("schema")
            if isSchemaFolder(candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        let installed = URL(fileURLWithPath: "/usr/share/consultd/schema")
        return isSchemaFolder(installed) ? installed : nil
    }

    private static func isSchemaFolder(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent("001_event_log.sql").path)
    }
}

/// Why migrating could not go on.
public enum MigrationError: Error, CustomStringConvertible {
    case unreadableFolder(String, underlying: String)
    case badFileName(String)
    case duplicateVersion(Int)
    case gap(expected: Int, found: Int)
    case missingFolder(String)
    case failed(Migration, PostgresError)
    case fileFailed(String, PostgresError)

    public var description: String {
        switch self {
        case .unreadableFolder(let path, let underlying): return "cannot read schema folder \(path): \(underlying)"
        case .badFileName(let name): return "schema file \(name) is not named NNN_description.sql"
        case .duplicateVersion(let version): return "two schema files are numbered \(version)"
        case .gap(let expected, let found): return "schema files skip from \(expected - 1) to \(found)"
        case .missingFolder(let path): return "schema folder \(path) is missing (it holds files applied on every migrate)"
        case .failed(let migration, let error):
            return "migration \(migration.version) (\(migration.name)) failed, nothing of this run applied: \(error)"
        case .fileFailed(let name, let error):
            return "schema file \(name) failed, nothing of this run applied: \(error)"
        }
    }
}

/// Brings a database to the schema of this build, in one transaction, recording each numbered file
/// in `consult.schema_migrations`:
///
/// 1. every file of `schema/functions/` (one `CREATE OR REPLACE FUNCTION` each), in name order, on
///    every run: a function's current definition lives in one file, and the numbered files that
///    create triggers on it or drop an old signature find it there;
/// 2. the numbered `schema/NNN_name.sql` files the database does not have yet, in order, once each;
/// 3. every file of `schema/privileges/`, in name order, on every run (after 001 made the roles).
///
/// All of it commits together or not at all, so no session ever sees the functions of this build
/// over the tables of an older one. Safe to run again (nothing numbered is applied twice; functions
/// and privileges come out the same) and from several processes at once (they queue on an advisory
/// lock, and the later ones find no numbered file to apply).
public struct Migrator {
    public let migrations: [Migration]
    /// `schema/functions/*.sql`, in name order: applied before the numbered files, on every run.
    public let functions: [SchemaFile]
    /// `schema/privileges/*.sql`, in name order: applied after the numbered files, on every run.
    public let privileges: [SchemaFile]

    /// Arbitrary, fixed key for the session advisory lock that serialises migrators.
    static let lockKey: Int64 = 0x636F_6E73_756C_7464  // "consultd"

    public init(migrations: [Migration], functions: [SchemaFile] = [], privileges: [SchemaFile] = []) {
        self.migrations = migrations
        self.functions = functions
        self.privileges = privileges
    }

    /// Loads every `NNN_name.sql` from `directory` (numbers must run 1, 2, 3, ... without gaps) and
    /// every `.sql` file of its `functions/` and `privileges/` folders, which must exist.
    public init(directory: URL) throws {
        let migrations = try Self.numberedFiles(in: directory)
        self.init(
            migrations: migrations,
            functions: try Self.files(in: directory, folder: "functions"),
            privileges: try Self.files(in: directory, folder: "privileges"))
    }

    /// The `.sql` files of `directory/folder`, sorted by name (bytes, so the order is the same everywhere).
    static func files(in directory: URL, folder: String) throws -> [SchemaFile] {
        let url = directory.appendingPathComponent(folder)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw MigrationError.missingFolder(url.path)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".sql") }
                .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        } catch {
            throw MigrationError.unreadableFolder(url.path, underlying: error.localizedDescription)
        }
        return try names.map {
            SchemaFile(name: "\(folder)/\($0)", sql: try String(contentsOf: url.appendingPathComponent($0), encoding: .utf8))
        }
    }

    /// The numbered files of `directory` alone (a release's folder from before `functions/` existed
    /// is read so by the tests).
    public static func numberedFiles(in directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw MigrationError.unreadableFolder(directory.path, underlying: error.localizedDescription)
        }
        var loaded: [Migration] = []
        for name in names {
            let stem = name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError.badFileName(name)
            }
            if loaded.contains(where: { $0.version == version }) { throw MigrationError.duplicateVersion(version) }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            loaded.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        loaded.sort { $0.version < $1.version }
        for (index, migration) in loaded.enumerated() where migration.version != index + 1 {
            throw MigrationError.gap(expected: index + 1, found: migration.version)
        }
        return loaded
    }

    /// Applies the functions, the numbered files the database lacks and the privileges, and returns
    /// the numbered files applied (empty when it had them all; functions and privileges are applied either way).
    @discardableResult
    public func migrate(_ connection: Connection) throws -> [Migration] {
        // The lock is the session's: if the session is lost, migrating must stop, not go on unlocked.
        try connection.withoutReconnecting { try migrateHoldingLock(connection) }
    }

    private func migrateHoldingLock(_ connection: Connection) throws -> [Migration] {
        try connection.execute("SELECT pg_advisory_lock($1)", [Self.lockKey])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [Self.lockKey]) }
        try connection.executeScript(
            """
            CREATE SCHEMA IF NOT EXISTS consult;
            CREATE TABLE IF NOT EXISTS consult.schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            """)
        let applied = Set(
            try connection.execute("SELECT version FROM consult.schema_migrations").rows.map {
                try $0.get("version", as: Int.self)
            })
        let pending = migrations.filter { !applied.contains($0.version) }
        try connection.transaction { connection in
            try apply(functions, connection)
            for migration in pending {
                do {
                    try connection.executeScript(migration.sql)
                    try connection.execute(
                        "INSERT INTO consult.schema_migrations (version, name) VALUES ($1, $2)",
                        [migration.version, migration.name])
                } catch let error as PostgresError {
                    throw MigrationError.failed(migration, error)
                }
            }
            try apply(privileges, connection)
        }
        return pending
    }

    private func apply(_ files: [SchemaFile], _ connection: Connection) throws {
        for file in files {
            do {
                try connection.executeScript(file.sql)
            } catch let error as PostgresError {
                throw MigrationError.fileFailed(file.name, error)
            }
        }
    }

    /// The highest applied version, or 0 for a database never migrated.
    public static func currentVersion(_ connection: Connection) throws -> Int {
        // Two statements: a query naming a table that does not exist would not even parse.
        let exists = try connection.execute(
            "SELECT to_regclass('consult.schema_migrations') IS NOT NULL AS present").first
        guard try exists?.get("present", as: Bool.self) == true else { return 0 }
        let row = try connection.execute(
            "SELECT coalesce(max(version), 0) AS version FROM consult.schema_migrations").first
        return try row?.get("version") ?? 0
    }
}
