import ArgumentParser
import Foundation

/// consultd's command line, as parsed: every option and flag with its help and default. What they
/// mean together (and the environment's fallbacks) is `DaemonConfiguration`'s to say.
public struct DaemonOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL or conninfo (default: $CONSULT_DATABASE_URL, else the PG* variables).")
    public var database: String?

    @Option(help: "Address to listen on.")
    public var host: String = "127.0.0.1"

    @Option(help: "TCP port to listen on (0: any free port, logged at start).")
    public var port: UInt16 = 7600

    @Option(help: "TLS certificate (PEM, with any intermediates after it; default: $CONSULT_TLS_CERT); with --tls-key, TLS is served. Re-read on SIGHUP.")
    public var tlsCert: String?

    @Option(help: "The TLS certificate's private key (PEM; default: $CONSULT_TLS_KEY).")
    public var tlsKey: String?

    @Option(help: "CA (PEM; default: $CONSULT_TLS_CLIENT_CA) whose client certificates may stand in for AUTH's token: `AUTH <organisation-id>` is accepted when the certificate's subject CN is that organisation (off by default).")
    public var tlsClientCa: String?

    @Option(help: "Serve TLS on this port and plain TCP on --port (default: TLS on --port, no plain port).")
    public var tlsPort: UInt16?

    @Option(help: "Address the --tls-port listens on (default: --host), e.g. 0.0.0.0 while plain TCP stays on 127.0.0.1.")
    public var tlsHost: String?

    @Flag(help: "With --tls-port: a plain connection on --port gets one line naming the TLS port and is closed.")
    public var requireTls = false

    @Option(help: "Serve GET /metrics (Prometheus), /health and /ready over HTTP on this port (default: no HTTP port; 0: any free port, logged at start).")
    public var httpPort: UInt16?

    @Option(help: "Address the --http-port listens on. Keep it on loopback (or a private network): the metrics are for the operator.")
    public var httpHost: String = "127.0.0.1"

    @Option(help: "Longest request line in bytes.")
    public var maxLine: Int = 65_536

    @Option(help: "Most connections open at once; more are answered ERR BUSY and closed.")
    public var maxConnections: Int = 2_048

    @Option(help: "Connections not yet authenticated; beyond it the oldest of them is closed (default: a quarter of --max-connections).")
    public var maxUnauthenticated: Int?

    @Option(help: "Seconds of silence (nothing owed to the client) before a connection gets ERR TIMEOUT and is closed.")
    public var idleTimeout: Double = 300

    @Option(help: "Seconds from connecting to a successful AUTH.")
    public var authTimeout: Double = 10

    @Option(help: "Seconds from the first byte of a request line to its newline.")
    public var lineTimeout: Double = 30

    @Option(help: "Requests of one connection taken and not yet answered.")
    public var maxInFlight: Int = 4_096

    @Option(help: "Bytes held for one connection's requests in flight.")
    public var maxInFlightBytes: Int = 4 << 20

    @Option(help: "Reply bytes one connection may leave unread before it is read no more.")
    public var maxReplyBytes: Int = 1 << 20

    @Option(help: "Bytes of writes waiting for the committer, all connections together; beyond it ERR BUSY.")
    public var maxQueuedBytes: Int = 64 << 20

    @Option(help: "Seconds any one database call may take (connect, statement, lock wait); then ERR BUSY.")
    public var databaseTimeout: Double = 5

    @Option(help: "Database sessions answering STATUS, CONSULTATIONS and AUTH of a credential not yet cached.")
    public var readers: Int = 2

    @Option(help: "Most submissions committed in one transaction.")
    public var batchSize: Int = 512

    @Option(help: "Seconds to wait for a batch to fill once it has one submission (0: commit what is queued).")
    public var batchWait: Double = 0

    @Option(help: "Audit policy file for the projections (default: the shipped defaults, policy/default.json).")
    public var policy: String?

    @Option(help: "The operator's Ed25519 key (`consultctl keys generate`) that signs checkpoints of the log (default: $CONSULT_SIGNING_KEY; without one no checkpoint is signed).")
    public var signingKey: String?

    @Option(help: "The operator's master key (`consultctl keys generate-master`) that seals personal content (default: $CONSULT_MASTER_KEY_FILE). Required: nothing personal is stored in plaintext.")
    public var masterKeyFile: String?

    @Option(help: "The log's C2SP origin (e.g. consult.example.org/log): the first line of every checkpoint and the name of the signing key. Set once; stored with the log, and consultd refuses another (default: $CONSULT_LOG_ORIGIN, else the stored one). Without it (and none stored) checkpoints keep the first format and no witness can cosign them.")
    public var logOrigin: String?

    @Option(help: ArgumentHelp("A witness to submit checkpoints to: \"VKEY URL\" (its cosignature vkey and its submission prefix, http://host:port[/path]). Repeat for each.", valueName: "vkey url"))
    public var witness: [String] = []

    @Option(help: "How many of the --witness cosignatures a checkpoint needs to be the one published and put in receipts (default: a majority).")
    public var witnessQuorum: Int?

    @Option(help: "Seconds between signed checkpoints while the log grows.")
    public var checkpointInterval: Double = 10

    @Flag(help: "Do not keep the Merkle tree or sign checkpoints here (another consultd on the same database does).")
    public var noNotary = false

    @Flag(help: "Refuse to start unless the database commits through a synchronous standby (synchronous_standby_names set, one streaming as sync or quorum, its flush position readable: grant pg_monitor); and sign nothing it has not confirmed even if the standby is later dropped from synchronous_standby_names.")
    public var requireSynchronousStandby = false

    @Option(help: "Attempts to reach the database at start before giving up.")
    public var connectAttempts: Int = 10

    // The logging options take their environment variable as their default, read while parsing,
    // so that --help shows the value in force.
    @Option(help: "text (one line per entry, for people) or json (one JSON object per line, for log shippers).")
    public var logFormat: String = ProcessInfo.processInfo.environment["CONSULT_LOG_FORMAT"] ?? "text"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: String = ProcessInfo.processInfo.environment["CONSULT_LOG_LEVEL"] ?? "info"

    public init() {}
}
