import ArgumentParser
import Foundation
import Migrations
import PostgresClient
import Version

/// The command-line tool for conveners, analysts, operators and cron.
@main
struct Consultctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultctl",
        abstract: "Run and query a consultd consultation log.",
        version: "consultctl \(ConsultdVersion.description)",
        subcommands: [Migrate.self, Org.self, ConsultationCommand.self, Feedback.self, Outcome.self, Query.self, Report.self, ProjectionsCommand.self, Demo.self, Verify.self, Submit.self, ReceiptCommand.self, Keys.self, Erase.self, Retention.self, WitnessCommand.self]
    )
}

/// Options every command that touches the database takes.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database"),
        help: "PostgreSQL URL or conninfo (default: $CONSULT_DATABASE_URL, else the PG* variables).")
    var database: String?

    var conninfo: String { Connection.conninfo(flag: database) }
}

/// Prints one line to stderr and exits non-zero: what cron and scripts expect of a failure.
func fail(_ message: String) -> Never {
    // libpq's messages span lines; cron and scripts get one.
    let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    FileHandle.standardError.write(Data("consultctl: \(line)\n".utf8))
    exit(1)
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply schema/: its functions, the numbered migrations the database does not have yet, and privileges.")

    @OptionGroup var db: DatabaseOptions

    @Option(help: "Folder of NNN_name.sql files, functions/ and privileges/ (default: $CONSULT_SCHEMA_DIR, the checkout's schema/, or /usr/share/consultd/schema).")
    var schemaDir: String?

    func run() throws {
        guard let folder = schemaDir.map({ URL(fileURLWithPath: $0) }) ?? Schema.locateDirectory() else {
            fail("no schema folder found: pass --schema-dir or set CONSULT_SCHEMA_DIR")
        }
        do {
            let migrator = try Migrator(directory: folder)
            let connection = try Connection(db.conninfo)
            let applied = try migrator.migrate(connection)
            let version = try Migrator.currentVersion(connection)
            if applied.isEmpty {
                print("schema is up to date at version \(version)")
            } else {
                for migration in applied { print("applied \(migration.version) \(migration.name)") }
                print("schema is now at version \(version)")
            }
        } catch {
            fail("\(error)")
        }
    }
}
