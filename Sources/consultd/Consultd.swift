import ArgumentParser
import Dispatch
import Foundation
import Logging
import Migrations
import PostgresClient
import Metrics
import Projections
import Server

/// The long-running daemon: line protocol in, events out to PostgreSQL.
@main
struct Consultd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultd",
        abstract: "Ingest consultation submissions over TCP into the PostgreSQL event log.")

    @Option(help: "PostgreSQL URL or conninfo (default: $CONSULT_DATABASE_URL, else the PG* variables).")
    var database: String?

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on (0: any free port, logged at start).")
    var port: UInt16 = 7600

    @Option(help: "Longest request line in bytes.")
    var maxLine: Int = 65_536

    @Option(help: "Most connections open at once; more are answered ERR BUSY and closed.")
    var maxConnections: Int = 2_048

    @Option(help: "Seconds of silence before a connection gets ERR TIMEOUT and is closed.")
    var idleTimeout: Double = 300

    @Option(help: "Most submissions committed in one transaction.")
    var batchSize: Int = 512

    @Option(help: "Seconds to wait for a batch to fill once it has one submission (0: commit what is queued).")
    var batchWait: Double = 0

    @Option(help: "Audit policy file for the projections (default: the shipped defaults, policy/default.json).")
    var policy: String?

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

        var config = ServerConfig()
        config.host = host
        config.port = port
        config.conninfo = Connection.conninfo(flag: database)
        config.maxLineLength = maxLine
        config.maxConnections = maxConnections
        config.idleTimeout = idleTimeout
        config.batchSize = batchSize
        config.batchWait = batchWait
        guard maxLine > 0, maxConnections > 0, idleTimeout > 0, batchSize > 0, batchWait >= 0 else {
            Self.exit(withOneLine: "--max-line, --max-connections, --idle-timeout and --batch-size must be positive")
        }
        let server = Server(config: config, logger: logger)
        let auditPolicy: Policy
        do { auditPolicy = try Policy.load(policy) } catch { Self.exit(withOneLine: "\(error)") }

        // Signals arrive through Dispatch sources (the default action is ignored first), installed
        // before anything else so that a SIGTERM during start-up stops the daemon too. A closing
        // client must not kill the daemon: SIGPIPE is ignored (and sends use MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        let started = Locked(false)
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "consultd.signals"))
            source.setEventHandler {
                logger.info("stopping", metadata: ["signal": "\(signalNumber)"])
                if started.current { server.stop() }
                logger.info("stopped")
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }

        let connection: Connection
        do {
            connection = try Connection.connect(config.conninfo, attempts: connectAttempts) { attempt, error in
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
        } catch {
            Self.exit(withOneLine: "cannot read the schema version: \(error)")
        }
        connection.close()

        do {
            let bound = try server.start()
            started.withLock { $0 = true }
            let projector = Projector(conninfo: config.conninfo, policy: auditPolicy, logger: logger)
            let projectorThread = Thread { projector.run(shouldStop: { false }) }
            projectorThread.name = "consultd.projector"
            projectorThread.start()
            logger.info("ready", metadata: ["listening": "\(host):\(bound)", "schema_version": "\(Schema.requiredVersion)"])
        } catch {
            Self.exit(withOneLine: "\(error)")
        }
        withExtendedLifetime(sources) { dispatchMain() }
    }

    static func exit(withOneLine message: String) -> Never {
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        FileHandle.standardError.write(Data("consultd: \(line)\n".utf8))
        Foundation.exit(1)
    }
}
