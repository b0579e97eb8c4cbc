import ArgumentParser
import DaemonConfiguration
import Foundation
import Logging
import Observability
import Participation
import Server
import Trust
import Vault
import Version

/// The long-running daemon: line protocol in, events out to PostgreSQL.
@main
struct Consultd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultd",
        abstract: "Ingest consultation submissions over TCP into the PostgreSQL event log.",
        version: "consultd \(ConsultdVersion.description)")

    @OptionGroup var options: DaemonOptions

    /// Configure (options and environment, then the files they name), check the database, start
    /// the services in order, wait for SIGTERM or SIGINT, stop them in the reverse order.
    func run() throws {
        let settings: DaemonConfiguration
        do {
            settings = try DaemonConfiguration(options: options, environment: ProcessInfo.processInfo.environment)
        } catch where error.isUsageError {
            throw ValidationError(error.description)
        } catch {
            Self.exit(withOneLine: error.description)
        }
        Self.bootstrapLogging(settings)
        let logger = Logger(label: "consultd")
        let vault: Vault
        do { vault = Vault(master: try MasterKey.load(settings.masterKeyFile)) } catch { Self.exit(withOneLine: "\(error)") }
        let key: SigningKey?
        do { key = try settings.signingKeyFile.map(SigningKey.load) } catch { Self.exit(withOneLine: "\(error)") }
        let metrics = DaemonMetrics(version: ConsultdVersion.number, commit: ConsultdVersion.commit)
        let server = Server(config: settings.server, vault: vault, logger: logger, metrics: metrics)
        let systemd = SystemdNotifier()
        // Certificate files are checked before the database is, so that a wrong path is the one line said.
        do { try server.loadTLS() } catch { Self.exit(withOneLine: "\(error)") }
        let auditPolicy: Policy
        do { auditPolicy = try Policy.load(settings.policyFile) } catch { Self.exit(withOneLine: "\(error)") }

        let signals = Signals(systemd: systemd, logger: logger, reload: { server.reloadTLS() })
        let origin = StartupChecks.run(settings, vault: vault, hasSigningKey: key != nil, logger: logger)
        if signals.stopping.current { return }
        if key == nil {
            logger.warning("no signing key: this server signs no checkpoints and gives no receipts (make one with `consultctl keys generate` and pass --signing-key; docs/TRUST.md)")
        }
        if key != nil && origin == nil {
            logger.warning("no --log-origin: checkpoints are signed in the first format (consultd-checkpoint-v1), which witnesses cannot cosign; choose the log's origin once with --log-origin (docs/TRUST.md)")
        }

        let services = Services(
            settings, server: server, key: key, origin: origin, auditPolicy: auditPolicy, metrics: metrics, systemd: systemd,
            stopping: signals.stopping, logger: logger
        ).lifecycle
        do { try services.start() } catch { Self.exit(withOneLine: "\(error)") }
        signals.waitForStop()
        services.stop()
        logger.info("stopped")
    }

    static func bootstrapLogging(_ settings: DaemonConfiguration) {
        let level = settings.logLevel
        let json = settings.logFormat == .json
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static func exit(withOneLine message: String) -> Never {
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        FileHandle.standardError.write(Data("consultd: \(line)\n".utf8))
        Foundation.exit(1)
    }
}
