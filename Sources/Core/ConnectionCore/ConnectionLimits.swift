/// What one client connection may make the daemon hold, in bytes, requests and time.
///
/// Every figure bounds something a client controls; docs/PROTOCOL.md lists them with their defaults.
public struct ConnectionLimits: Sendable, Equatable {
    /// Longest request line in bytes (SPEC: 65,536 by default).
    public var maxLineLength = 65_536
    /// Requests taken and not yet answered.
    public var maxInFlight = 4_096
    /// Bytes held for requests taken and not yet answered (each costs about twice its line: the
    /// request, then the event built from it).
    public var maxInFlightBytes = 4 << 20
    /// Reply bytes the client has not read yet; beyond it no more requests are taken or read.
    public var maxOutputBytes = 1 << 20
    /// Requests read ahead of the one being handled, in bytes (at least one longest line).
    public var maxReadAheadBytes = 65_536 + 65_536
    /// Reads (STATUS, CONSULTATIONS, an AUTH the cache cannot answer) sent to the read pool at once.
    public var maxReadsInFlight = 4
    /// Seconds from connecting to a successful AUTH.
    public var authTimeout: Double = 10
    /// Seconds from the first byte of a line to its newline.
    public var lineTimeout: Double = 30
    /// Seconds without input, with nothing owed to the client, before `ERR TIMEOUT`.
    public var idleTimeout: Double = 300
    /// Seconds from a request's arrival (its line read) to its reply, for requests answered from the
    /// database (SUBMIT, WITHDRAW, STATUS, CONSULTATIONS, RECEIPT): past it, one still waiting (for
    /// the database, or behind a batch or a read that is stuck) is answered `BUSY`, and its late answer
    /// is dropped. nil: no deadline. The server sets it to its database timeout.
    public var requestTimeout: Double? = nil
    /// Failed AUTH attempts before the connection is closed (SPEC: 5).
    public var maxAuthFailures = 5

    public init() {}
}
