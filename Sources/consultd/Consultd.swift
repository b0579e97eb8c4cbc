import ArgumentParser
import Dispatch
import Foundation
import Logging
import Migrations
import PostgresClient

/// The long-running daemon: line protocol in, events out to PostgreSQL.
@main
struct Consultd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultd",
        abstract: "Ingest consultation submissions over TCP into the PostgreSQL event log.")

    @Option(help: "PostgreSQL URL or conninfo (default: $CONSULT_DATABASE_URL, else the PG* variables).")
    var database: String?

    @Option(help: "Attempts to reach the database at start before giving up.")
    var connectAttempts: Int = 10

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["CONSULT_LOG_LEVEL"] ?? "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \(logLevel)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "consultd")

        // Signals arrive through Dispatch sources (the default action is ignored first), installed
        // before anything else so that a SIGTERM during start-up stops the daemon cleanly too.
        // Nothing is in flight yet, so stopping is exiting; the server notices the closed socket.
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "consultd.signals"))
            source.setEventHandler {
                logger.info("stopping", metadata: ["signal": "\(signalNumber)"])
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)

        let connection: Connection
        do {
            connection = try Connection.connect(Connection.conninfo(flag: database), attempts: connectAttempts) {
                attempt, error in
                logger.warning("database not reachable yet", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        } catch {
            Self.exit(withOneLine: "cannot reach the database after \(connectAttempts) attempts: \(error)")
        }
        do {
            let version = try Migrator.currentVersion(connection)
            guard version >= Schema.requiredVersion else {
                Self.exit(
                    withOneLine: "database schema is at version \(version), this consultd needs "
                        + "\(Schema.requiredVersion): run `consultctl migrate`")
            }
            logger.info("ready", metadata: ["schema_version": "\(version)"])
        } catch {
            Self.exit(withOneLine: "cannot read the schema version: \(error)")
        }

        withExtendedLifetime(sources) { dispatchMain() }
    }

    static func exit(withOneLine message: String) -> Never {
        FileHandle.standardError.write(Data("consultd: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

