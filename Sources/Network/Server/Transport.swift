import Foundation
import TLS

/// How a call on a transport ended (the same words for plain TCP and TLS).
typealias TransportOutcome = TLSConnection.Outcome

/// How one connection's bytes cross its non-blocking socket: as they are, or through TLS. No call
/// blocks; one that cannot finish says which readiness of the socket it waits for, and that may be
/// the other direction (TLS reads may need to write, and writes to read). The socket itself belongs
/// to the connection, which closes it.
protocol Transport: AnyObject {
    /// Advances the handshake, if the transport has one; `.done` once bytes may flow.
    func handshake() -> TransportOutcome
    /// Reads at most `buffer.count` bytes; `.closed` at the end of the peer's input.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportOutcome
    /// Writes from the start of `bytes`. After a wait, the next call must start with the same bytes.
    func write(_ bytes: UnsafeRawBufferPointer) -> TransportOutcome
    /// Input already taken off the socket and not yet read: a read can return it although the
    /// socket's read source will not fire for it.
    var hasBufferedInput: Bool { get }
    /// The organisation a verified client certificate names, if any (it may stand in for a token).
    var certifiedOrganisation: String? { get }
    /// Says goodbye where the protocol has a way to (TLS close_notify), without waiting.
    func shutdown()
}

/// Plain TCP.
final class PlainTransport: Transport {
    private let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func handshake() -> TransportOutcome { .done(0) }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportOutcome {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .done(count) }
            if count == 0 { return .closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wantRead }
            return .failed(String(cString: strerror(errno)))
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportOutcome {
        while true {
            // MSG_NOSIGNAL: a client that closed early must not kill the daemon with SIGPIPE.
            let sent = Foundation.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return .done(sent) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wantWrite }
            return .failed(String(cString: strerror(errno)))
        }
    }

    var hasBufferedInput: Bool { false }
    var certifiedOrganisation: String? { nil }
    func shutdown() {}
}

/// TLS over the socket, through OpenSSL (`TLS.TLSConnection`). OpenSSL writes to the socket with
/// write(2), which cannot pass MSG_NOSIGNAL: the daemon ignores SIGPIPE (`Server.start`).
final class TLSTransport: Transport {
    private let fd: Int32
    private let connection: TLSConnection
    private var checkedFirstByte = false
    private(set) var certifiedOrganisation: String?

    init(fd: Int32, context: TLSContext) throws(TLSError) {
        self.fd = fd
        connection = try TLSConnection(context: context, socket: fd, role: .server)
    }

    /// A TLS handshake opens with a handshake record (0x16): someone typing a request in plain
    /// text is told in plain text what this port speaks, instead of waiting for the deadline.
    static let plainTextRefusal = Array("ERR PROTOCOL this port speaks TLS; connect with TLS\n".utf8)

    func handshake() -> TransportOutcome {
        if !checkedFirstByte {
            var first: UInt8 = 0
            let count = recv(fd, &first, 1, Int32(MSG_PEEK))
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .wantRead }
                return .failed(String(cString: strerror(errno)))
            }
            if count == 0 { return .closed }
            checkedFirstByte = true
            if first != 0x16 {
                _ = Self.plainTextRefusal.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                return .failed("plain text on the TLS port")
            }
        }
        let outcome = connection.handshake()
        if outcome == .done(0) { certifiedOrganisation = connection.verifiedPeerCommonName }
        return outcome
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportOutcome { connection.read(into: buffer) }
    func write(_ bytes: UnsafeRawBufferPointer) -> TransportOutcome { connection.write(bytes) }
    var hasBufferedInput: Bool { connection.hasBufferedInput }
    func shutdown() { connection.shutdown() }

    /// The agreed version and cipher, for the log.
    var agreed: String { "\(connection.protocolVersion) \(connection.cipher)" }
}
