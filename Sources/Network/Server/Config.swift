import ConnectionCore
import Foundation
import Trust

/// Everything an operator can tune; defaults are for one small machine. docs/PROTOCOL.md and
/// deploy/README.md list every limit and timeout with its default.
public struct ServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 7600
    public var conninfo = ""
    /// Per-connection limits: line length, requests and bytes in flight, reply bytes, deadlines.
    public var connection = ConnectionLimits()
    public var maxConnections = 2_048
    /// Connections not yet authenticated; beyond it the oldest such is closed to make room, so that
    /// idle or slow sockets cannot keep organisations out. Default: a quarter of `maxConnections`.
    public var maxUnauthenticated = 512
    /// Most submissions committed in one transaction.
    public var batchSize = 512
    /// Most bytes of writes committed in one transaction.
    public var maxBatchBytes = 8 << 20
    /// Longest wait for a batch to fill once the first submission is there (0: take what is queued).
    public var batchWait: Double = 0
    /// Submissions waiting for the committer, across all connections; beyond it, `ERR BUSY`.
    public var maxQueuedSubmissions = 50_000
    /// Bytes held by writes waiting for the committer, across all connections; beyond it, `ERR BUSY`.
    public var maxQueuedBytes = 64 << 20
    /// Seconds any one database call may take (connect, statement, lock wait, reply); then `ERR BUSY`.
    public var databaseTimeout: Double = 5
    /// Threads (each with a database session) answering STATUS, CONSULTATIONS and uncached AUTH.
    public var readers = 2
    /// Seconds a graceful stop waits for the batch in flight and for replies to drain.
    public var shutdownTimeout: Double = 10
    /// TLS, when the operator configured a certificate; nil: plain TCP only.
    public var tls: TLSSettings?
    /// True when this daemon's notary signs checkpoints with the operator's key; without one, RECEIPT
    /// says that no receipt can be given instead of asking the client to retry.
    public var signsCheckpoints = false
    /// The witnesses whose cosignatures count and the quorum: RECEIPT gives the latest checkpoint
    /// covering the event that has the quorum (else the latest), and says how many it has.
    public var witnessPolicy = WitnessPolicy.none
    /// Acknowledge nothing that a synchronous standby has not confirmed, even when
    /// `synchronous_standby_names` is empty (then every write is BUSY). Without it, an empty
    /// setting means the database promises durability on itself only (consultd warned at start).
    public var requireSynchronousStandby = false

    public init() {}
}

/// Where TLS's certificate, key and client CA are (re-read on SIGHUP), and which ports speak it.
public struct TLSSettings: Sendable {
    /// PEM: the server's certificate, then any intermediates.
    public var certificateFile: String
    /// PEM: the certificate's private key.
    public var keyFile: String
    /// PEM: the CA whose client certificates may stand in for AUTH's token; nil: none are asked for.
    public var clientCAFile: String?
    /// A port speaking TLS beside the plain `ServerConfig.port`; nil: `port` itself speaks TLS.
    public var port: UInt16?
    /// The address `port` listens on (default: `ServerConfig.host`), so that TLS can face the
    /// internet while plain TCP stays on loopback.
    public var host: String?
    /// Plain connections (on `ServerConfig.port`, when `port` is set) get one line and are closed.
    public var required = false

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
