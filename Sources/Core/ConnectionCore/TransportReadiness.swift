/// What a connection's transport waits for, and so which socket readiness its Dispatch sources arm.
/// TLS makes this more than "read when there is room, write when there is output": during the
/// handshake the transport needs whichever the handshake asks for, and after it a read may need the
/// socket writable (to send a key update) and a write may need it readable. Pure, so every
/// combination is tested; the shell (`Server.ClientConnection`) records each outcome here and arms
/// what `interest` says.
public struct TransportReadiness: Equatable, Sendable {
    /// The socket readiness an operation waits for.
    public enum Wait: Equatable, Sendable { case readable, writable }

    /// False until the transport's handshake is complete; till then the machine gets no bytes.
    public private(set) var established = false
    /// What the handshake waits for (nil: it has not asked, or it is done).
    public private(set) var handshakeWaits: Wait?
    /// What the last read and the last write waited for (nil: they did not wait).
    public var readWaits: Wait?
    public var writeWaits: Wait?

    public init() {}

    public mutating func handshake(waits: Wait) { handshakeWaits = waits }

    public mutating func handshakeDone() {
        established = true
        handshakeWaits = nil
    }

    /// Which sources to arm. `reading`: the connection wants bytes (its machine's `wantsInput`, input
    /// not ended); `pending`: output waits to be written; `inputEnded`: the peer closed its side.
    public func interest(reading: Bool, pending: Bool, inputEnded: Bool) -> (read: Bool, write: Bool) {
        guard established else { return (handshakeWaits == .readable, handshakeWaits == .writable) }
        return (
            read: (reading && readWaits != .writable) || (pending && writeWaits == .readable && !inputEnded),
            write: (pending && writeWaits != .readable) || (reading && readWaits == .writable))
    }

    /// On the socket becoming readable, once established: whether to write (a write waited for it)
    /// and whether to read (unless the read waits for the socket to be writable).
    public var whenReadable: (flush: Bool, read: Bool) { (writeWaits == .readable, readWaits != .writable) }

    /// On the socket becoming writable, once established: whether to read (a read waited for it) and
    /// whether to write (unless the write waits for the socket to be readable).
    public var whenWritable: (read: Bool, flush: Bool) { (readWaits == .writable, writeWaits != .readable) }
}
