import DaemonConfiguration
import Logging
import Migrations
import PostgresClient
import Trust
import Vault

/// What consultd checks in the database before it serves anything, each problem said as one line
/// (`Consultd.exit(withOneLine:)`): reachable, the schema this build needs, the master key the
/// vault was sealed with, the log's origin settled, and a synchronous standby (required or warned
/// about). Returns the origin checkpoints are signed with.
enum StartupChecks {
    static func run(_ settings: DaemonConfiguration, vault: Vault, hasSigningKey: Bool, logger: Logger) -> String? {
        let connection: Connection
        do {
            connection = try Connection.connect(
                settings.server.conninfo, options: .bounded(settings.server.databaseTimeout), attempts: settings.connectAttempts
            ) { attempt, error in
                logger.warning("database not reachable yet", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            }
        } catch {
            Consultd.exit(withOneLine: "cannot reach the database after \(settings.connectAttempts) attempts: \(error)")
        }
        defer { connection.close() }
        do {
            let version = try Migrator.currentVersion(connection)
            guard version >= Schema.requiredVersion else {
                Consultd.exit(
                    withOneLine: "database schema is at version \(version), this consultd needs "
                        + "\(Schema.requiredVersion): run `consultctl migrate`")
            }
        } catch {
            Consultd.exit(withOneLine: "cannot read the schema version: \(error)")
        }
        do { try vault.check(connection) } catch { Consultd.exit(withOneLine: "\(error)") }
        let origin: String?
        do { origin = try LogOrigin.settle(connection, requested: settings.requestedOrigin) } catch { Consultd.exit(withOneLine: "\(error)") }
        if !settings.witnesses.isEmpty && (origin == nil || !hasSigningKey) {
            Consultd.exit(withOneLine: "--witness needs --log-origin and a signing key: witnesses cosign C2SP checkpoints only")
        }
        // Durability beyond one machine (SPEC): without a synchronous standby a failover can lose
        // acknowledged events, and what was signed over them.
        do {
            let replication = try SynchronousStandby.status(connection)
            if let problem = replication.problem {
                if settings.server.requireSynchronousStandby { Consultd.exit(withOneLine: "--require-synchronous-standby: \(problem)") }
                logger.warning("no synchronous standby: \(problem)")
            } else {
                logger.info("synchronous standby confirmed", metadata: ["synchronous_standby_names": "\(replication.names)"])
            }
        } catch {
            Consultd.exit(withOneLine: "cannot read the database's replication state: \(error)")
        }
        return origin
    }
}
