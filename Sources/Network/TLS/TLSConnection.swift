import CLibSSL
import Foundation

/// One TLS connection over a socket the caller owns (and closes), which should be non-blocking: every
/// call returns at once, and says when it could not finish which readiness of the socket it waits
/// for. OpenSSL's `WANT_READ`/`WANT_WRITE` cut across reading and writing: a read may need to write
/// (the handshake, a key update) and a write may need to read, and decrypted bytes may wait inside
/// OpenSSL while the socket has nothing (`hasBufferedInput`).
///
/// Not thread-safe (nor is OpenSSL's SSL object): one thread or serial queue at a time.
public final class TLSConnection {
    /// How a call ended.
    public enum Outcome: Equatable, Sendable {
        /// The handshake is complete, or this many bytes were read or written.
        case done(Int)
        /// Call again when the socket is readable.
        case wantRead
        /// Call again when the socket is writable.
        case wantWrite
        /// The peer closed the connection (close_notify, or the end of the stream).
        case closed
        /// The connection is unusable; the reason is for logs and error messages.
        case failed(String)
    }

    /// Which end of the connection this is.
    public enum Role: Sendable {
        case server
        /// A client checking that the server's certificate names `serverName` (a host name or an IP
        /// address; a name is also sent as SNI).
        case client(serverName: String)
    }

    private let ssl: OpaquePointer
    private let role: Role
    /// After a fatal error OpenSSL must not be asked to send close_notify.
    private var broken = false
    /// The length of a write that could not finish: OpenSSL requires it to be retried with the
    /// same bytes (they may have moved; `SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER` allows that).
    private var retryLength: Int?
    public private(set) var isEstablished = false

    public init(context: TLSContext, socket: Int32, role: Role) throws(TLSError) {
        OpenSSLErrors.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError(.configuration, "cannot create a TLS connection: \(OpenSSLErrors.take())")
        }
        self.ssl = ssl
        self.role = role
        guard SSL_set_fd(ssl, socket) == 1 else {
            throw TLSError(.configuration, "cannot attach TLS to the socket: \(OpenSSLErrors.take())")
        }
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client(let serverName):
            SSL_set_connect_state(ssl)
            let checked: Bool
            if Self.isIPAddress(serverName) {
                checked = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1
            } else {
                checked = SSL_set1_host(ssl, serverName) == 1 && consult_SSL_set_tlsext_host_name(ssl, serverName) == 1
            }
            guard checked else {
                throw TLSError(.configuration, "cannot check the server's name \(serverName): \(OpenSSLErrors.take())")
            }
        }
    }

    deinit { SSL_free(ssl) }

    /// Advances the handshake; `.done(0)` once it is complete.
    public func handshake() -> Outcome {
        if isEstablished { return .done(0) }
        OpenSSLErrors.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isEstablished = true
            return .done(0)
        }
        return outcome(of: result, during: "handshake")
    }

    /// Reads decrypted bytes into `buffer` (at most its size).
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        guard !buffer.isEmpty else { return .done(0) }
        OpenSSLErrors.clear()
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return .done(count) }
        return outcome(of: 0, during: "read")
    }

    /// Writes from the start of `bytes`; returns how many were taken (at least one record's worth,
    /// unless it must wait). After a wait, call again with the same bytes at the start of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let length = retryLength ?? min(bytes.count, 1 << 16)
        guard length > 0 else { return .done(0) }
        // A caller that lost the bytes of a pending write cannot finish it; the connection is over
        // (a daemon must not trap on one connection's account).
        guard bytes.count >= length else {
            broken = true
            return .failed("a TLS write was retried without its bytes")
        }
        OpenSSLErrors.clear()
        var written = 0
        if SSL_write_ex(ssl, bytes.baseAddress, length, &written) == 1 {
            retryLength = nil
            return .done(written)
        }
        let result = outcome(of: 0, during: "write")
        if result == .wantRead || result == .wantWrite { retryLength = length }
        return result
    }

    /// Asks for new traffic keys in both directions (TLS 1.3 KeyUpdate); sent with the next write.
    /// Long-lived connections may do this now and then; the peer answers through its next write.
    @discardableResult
    public func requestKeyUpdate() -> Bool {
        OpenSSLErrors.clear()
        return SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) == 1
    }

    /// True when OpenSSL holds input (the rest of a record a smaller read did not take) that a read
    /// can return without the socket becoming readable again.
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    /// Sends close_notify if the connection is healthy, without waiting for the peer's.
    public func shutdown() {
        guard isEstablished, !broken else { return }
        OpenSSLErrors.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrors.clear()
    }

    /// The peer's certificate, if it sent one (a client's is verified by then, or the handshake failed).
    public var peerCertificate: CertificateSummary? {
        SSL_get0_peer_certificate(ssl).map(CertificateSummary.init)
    }

    /// The common name of the peer's certificate when the certificate passed verification.
    public var verifiedPeerCommonName: String? {
        guard isEstablished, SSL_get_verify_result(ssl) == Int(X509_V_OK) else { return nil }
        return peerCertificate?.commonName
    }

    /// The protocol version agreed ("TLSv1.3").
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The cipher suite agreed.
    public var cipher: String { SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)).map { String(cString: $0) } ?? "" }

    private func outcome(of result: Int32, during operation: String) -> Outcome {
        let savedErrno = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            broken = true
            if ERR_peek_error() != 0 { return .failed(OpenSSLErrors.take()) }
            // An EOF or a reset is the peer closing, at any stage, as an EOF without close_notify
            // (SSL_ERROR_ZERO_RETURN here) already is: a peer that closes with our bytes unread (a
            // server over its limit, before our hello) resets the connection.
            if savedErrno == 0 || savedErrno == ECONNRESET { return .closed }
            return .failed("\(operation): \(String(cString: strerror(savedErrno)))")
        default:
            broken = true
            if case .client = role, !isEstablished, case let verdict = SSL_get_verify_result(ssl), verdict != Int(X509_V_OK) {
                OpenSSLErrors.clear()
                return .failed("certificate verify failed: \(String(cString: X509_verify_cert_error_string(verdict)))")
            }
            return .failed(OpenSSLErrors.take())
        }
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
