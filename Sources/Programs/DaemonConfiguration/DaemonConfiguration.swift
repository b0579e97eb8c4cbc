import Logging
import PostgresClient
import Server
import Trust

/// Everything consultd runs with, settled from its options and environment before anything starts:
/// the server's limits, TLS, the keys' paths (their files are read later), witnesses and logging.
public struct DaemonConfiguration: Sendable {
    /// How log entries are written: one line each for people, or one JSON object each for log shippers.
    public enum LogFormat: String, Sendable {
        case text, json
    }

    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// The line protocol server: address, database, limits, TLS, signing and witness policy.
    public var server: ServerConfig
    /// The master key's file (`--master-key-file`, else `$CONSULT_MASTER_KEY_FILE`): required.
    public var masterKeyFile: String
    /// The signing key's file (`--signing-key`, else `$CONSULT_SIGNING_KEY`); nil: nothing is signed.
    public var signingKeyFile: String?
    /// The audit policy's file; nil: the shipped defaults.
    public var policyFile: String?
    /// The log origin asked for (`--log-origin`, else a non-empty `$CONSULT_LOG_ORIGIN`); the stored
    /// one decides once the database is reached.
    public var requestedOrigin: String?
    public var witnesses: [WitnessEndpoint]
    /// Cosignatures a checkpoint needs: `--witness-quorum`, else a majority of the witnesses.
    public var witnessQuorum: Int
    public var checkpointInterval: Double
    /// False with `--no-notary`: another consultd keeps the tree and signs.
    public var keepsNotary: Bool
    public var connectAttempts: Int
    public var httpHost: String
    /// The operator's HTTP port; nil: none.
    public var httpPort: UInt16?

    /// Settles `options` with `environment` (the process's, or a test's): reads no file and opens
    /// nothing. Throws the first problem, in the order consultd has always reported them.
    public init(options: DaemonOptions, environment: [String: String]) throws(DaemonConfigurationError) {
        guard let level = Logger.Level(rawValue: options.logLevel) else { throw .unknownLogLevel(options.logLevel) }
        guard let format = LogFormat(rawValue: options.logFormat) else { throw .unknownLogFormat }
        logLevel = level
        logFormat = format

        var config = ServerConfig()
        config.host = options.host
        config.port = options.port
        config.conninfo = Connection.conninfo(flag: options.database, environment: environment)
        config.connection.maxLineLength = options.maxLine
        config.connection.maxReadAheadBytes = options.maxLine + 65_536
        config.connection.idleTimeout = options.idleTimeout
        config.connection.authTimeout = options.authTimeout
        config.connection.lineTimeout = options.lineTimeout
        config.connection.maxInFlight = options.maxInFlight
        config.connection.maxInFlightBytes = options.maxInFlightBytes
        config.connection.maxOutputBytes = options.maxReplyBytes
        config.maxConnections = options.maxConnections
        config.maxUnauthenticated = options.maxUnauthenticated ?? max(1, options.maxConnections / 4)
        config.maxQueuedBytes = options.maxQueuedBytes
        config.databaseTimeout = options.databaseTimeout
        config.readers = options.readers
        config.batchSize = options.batchSize
        config.batchWait = options.batchWait
        let positive: [(String, Double)] = [
            ("--max-line", Double(options.maxLine)), ("--max-connections", Double(options.maxConnections)),
            ("--max-unauthenticated", Double(config.maxUnauthenticated)), ("--idle-timeout", options.idleTimeout),
            ("--auth-timeout", options.authTimeout), ("--line-timeout", options.lineTimeout), ("--max-in-flight", Double(options.maxInFlight)),
            ("--max-in-flight-bytes", Double(options.maxInFlightBytes)), ("--max-reply-bytes", Double(options.maxReplyBytes)),
            ("--max-queued-bytes", Double(options.maxQueuedBytes)), ("--database-timeout", options.databaseTimeout),
            ("--readers", Double(options.readers)), ("--batch-size", Double(options.batchSize)),
        ]
        // Written so that NaN is refused too.
        if let bad = positive.first(where: { !($0.1 > 0) }) { throw .notPositive(option: bad.0) }
        guard options.batchWait >= 0 else { throw .notPositive(option: "--batch-wait") }

        guard let master = options.masterKeyFile ?? environment["CONSULT_MASTER_KEY_FILE"] else { throw .noMasterKey }
        masterKeyFile = master

        let clientCA = options.tlsClientCa ?? environment["CONSULT_TLS_CLIENT_CA"]
        switch (options.tlsCert ?? environment["CONSULT_TLS_CERT"], options.tlsKey ?? environment["CONSULT_TLS_KEY"]) {
        case (let certificate?, let key?):
            var settings = TLSSettings(certificateFile: certificate, keyFile: key)
            settings.clientCAFile = clientCA
            settings.port = options.tlsPort
            settings.host = options.tlsHost
            settings.required = options.requireTls
            config.tls = settings
        case (nil, nil):
            let needing = [
                ("--tls-client-ca", clientCA != nil), ("--tls-port", options.tlsPort != nil), ("--tls-host", options.tlsHost != nil),
                ("--require-tls", options.requireTls),
            ]
            if let given = needing.first(where: \.1) { throw .tlsWithoutCertificate(option: given.0) }
        case (nil, _?):
            throw .tlsIncompletePair(missing: "--tls-cert")
        case (_?, nil):
            throw .tlsIncompletePair(missing: "--tls-key")
        }

        signingKeyFile = options.signingKey ?? environment["CONSULT_SIGNING_KEY"]
        guard options.checkpointInterval > 0 else { throw .checkpointInterval }
        checkpointInterval = options.checkpointInterval
        keepsNotary = !options.noNotary
        // The key is read once the configuration is settled; a key that cannot be read stops consultd then.
        config.signsCheckpoints = signingKeyFile != nil && keepsNotary

        do {
            witnesses = try options.witness.map(WitnessEndpoint.init(parsing:))
        } catch {
            throw .witness("\(error)")
        }
        witnessQuorum = options.witnessQuorum ?? (witnesses.isEmpty ? 0 : witnesses.count / 2 + 1)
        guard (0...witnesses.count).contains(witnessQuorum) else { throw .witnessQuorum(witnessQuorum, witnesses: witnesses.count) }
        config.witnessPolicy = WitnessPolicy(witnesses: witnesses.map(\.key), quorum: witnessQuorum)
        config.requireSynchronousStandby = options.requireSynchronousStandby
        server = config

        policyFile = options.policy
        requestedOrigin = options.logOrigin ?? environment["CONSULT_LOG_ORIGIN"].flatMap { $0.isEmpty ? nil : $0 }
        connectAttempts = options.connectAttempts
        httpHost = options.httpHost
        httpPort = options.httpPort
    }
}

/// What is wrong with consultd's options, in the words it prints; `option` names the one at fault.
public enum DaemonConfigurationError: Error, Equatable, CustomStringConvertible {
    case unknownLogLevel(String)
    case unknownLogFormat
    /// A limit, timeout, `--readers` or `--batch-size` not above 0, or a negative `--batch-wait`.
    case notPositive(option: String)
    case noMasterKey
    /// `option` is given without a certificate and key to serve TLS with.
    case tlsWithoutCertificate(option: String)
    /// The certificate or the key alone: `option` is the one missing.
    case tlsIncompletePair(missing: String)
    case checkpointInterval
    /// A `--witness` that does not parse, in the parser's words.
    case witness(String)
    case witnessQuorum(Int, witnesses: Int)

    public var description: String {
        switch self {
        case .unknownLogLevel(let level): return "unknown log level \(level)"
        case .unknownLogFormat: return "--log-format is text or json"
        case .notPositive: return "limits, timeouts, --readers and --batch-size must be positive (--batch-wait may be 0)"
        case .noMasterKey: return "no master key: give --master-key-file FILE (make one with `consultctl keys generate-master`)"
        case .tlsWithoutCertificate: return "--tls-client-ca, --tls-port, --tls-host and --require-tls need --tls-cert and --tls-key"
        case .tlsIncompletePair: return "--tls-cert and --tls-key go together"
        case .checkpointInterval: return "--checkpoint-interval must be positive"
        case .witness(let problem): return problem
        case .witnessQuorum(let quorum, let witnesses): return "--witness-quorum \(quorum): between 0 and the number of --witness (\(witnesses))"
        }
    }

    /// The option at fault (its environment variable may be where the value came from).
    public var option: String {
        switch self {
        case .unknownLogLevel: return "--log-level"
        case .unknownLogFormat: return "--log-format"
        case .notPositive(let option), .tlsWithoutCertificate(let option), .tlsIncompletePair(let option): return option
        case .noMasterKey: return "--master-key-file"
        case .checkpointInterval: return "--checkpoint-interval"
        case .witness: return "--witness"
        case .witnessQuorum: return "--witness-quorum"
        }
    }

    /// True for the logging options, which consultd reports as a usage error (with the usage
    /// line, exit status 64) as it always has; the others are one line and exit status 1.
    public var isUsageError: Bool {
        switch self {
        case .unknownLogLevel, .unknownLogFormat: return true
        default: return false
        }
    }
}
