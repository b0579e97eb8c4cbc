import Foundation

/// Everything an operator can tune; defaults are for one small machine.
public struct ServerConfig: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 7600
    public var conninfo = ""
    public var maxLineLength = 65_536
    public var maxConnections = 2_048
    /// Seconds without input (and nothing owed to the client) before `ERR TIMEOUT` and close.
    public var idleTimeout: Double = 300
    /// Most submissions committed in one transaction.
    public var batchSize = 512
    /// Longest wait for a batch to fill once the first submission is there (0: take what is queued).
    public var batchWait: Double = 0
    /// Submissions waiting for the committer, across all connections; beyond it, `ERR BUSY`.
    public var maxQueuedSubmissions = 50_000
    /// Requests read from one connection and not yet answered; beyond it, reading that connection pauses.
    public var maxInFlightPerConnection = 4_096
    /// Reply bytes waiting for a slow reader; beyond it, reading that connection pauses.
    public var maxOutputBytes = 1 << 20
    /// Seconds a graceful stop waits for the batch in flight and for replies to drain.
    public var shutdownTimeout: Double = 10

    public init() {}
}
