import CLibSSL
import Foundation

/// Why TLS could not be set up, or a connection's TLS failed.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for callers that react differently (a bad file is the operator's to fix).
    public enum Kind: Sendable {
        /// A certificate, key or CA file could not be read or parsed, or the key does not match.
        case file
        /// OpenSSL refused a setting (a build without TLS 1.2, for instance).
        case configuration
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Protocol versions, the two this project speaks.
enum TLSVersion: Sendable {
    case tls1_2, tls1_3

    var openSSL: Int32 {
        switch self {
        case .tls1_2: return TLS1_2_VERSION
        case .tls1_3: return TLS1_3_VERSION
        }
    }
}

/// A TLS configuration (OpenSSL's SSL_CTX) that connections are made from: the server's certificate
/// and key, and whom it trusts for client certificates; or a client's trusted CAs and its own
/// certificate. Never older than TLS 1.2.
///
/// `@unchecked Sendable`: the context is fully configured in the factory methods and never changed
/// afterwards; OpenSSL allows one unchanging SSL_CTX to make SSL objects on many threads at once,
/// and each SSL object holds its own reference (so a replaced context lives on in open connections).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The certificate this side presents, if any (never the key).
    public let certificate: CertificateSummary?

    private init(pointer: OpaquePointer, certificate: CertificateSummary?) {
        self.pointer = pointer
        self.certificate = certificate
    }

    deinit { SSL_CTX_free(pointer) }

    /// A server's context: its certificate chain and key (PEM files), and, when `clientCAFile` is
    /// given, client certificates requested (not required) and verified against that CA.
    public static func server(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws(TLSError) -> TLSContext {
        let context = try make(TLS_server_method(), minimum: .tls1_2)
        // Replies are written from a buffer that may grow (and move) while a record is pending.
        _ = consult_SSL_CTX_set_mode(
            context, consult_SSL_MODE_ENABLE_PARTIAL_WRITE | consult_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | consult_SSL_MODE_RELEASE_BUFFERS)
        // Connections are long-lived and pipelined, so resumption saves little; without tickets or a
        // session cache there are no ticket keys to rotate alongside the certificate on SIGHUP.
        // Renegotiation is refused: it is a way to make the server work, and TLS 1.3 has none.
        _ = SSL_CTX_set_options(context, consult_SSL_OP_NO_TICKET | consult_SSL_OP_NO_RENEGOTIATION | consult_SSL_OP_CIPHER_SERVER_PREFERENCE)
        _ = SSL_CTX_set_num_tickets(context, 0)
        consult_SSL_CTX_disable_session_cache(context)
        do throws(TLSError) {
            try use(certificateFile: certificateFile, keyFile: keyFile, in: context)
            if let clientCAFile {
                try readable(clientCAFile, what: "client CA")
                guard SSL_CTX_load_verify_locations(context, clientCAFile, nil) == 1,
                    let names = SSL_load_client_CA_file(clientCAFile)
                else {
                    throw TLSError(.file, "client CA \(clientCAFile): \(OpenSSLErrors.take())")
                }
                SSL_CTX_set_client_CA_list(context, names)
                // Requested, not required: an organisation without a certificate still uses its token.
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        let certificate = SSL_CTX_get0_certificate(context).map(CertificateSummary.init)
        return TLSContext(pointer: context, certificate: certificate)
    }

    /// A client's context: servers are verified against `caFile` (default: the system's trusted
    /// CAs); `certificateFile` and `keyFile` give a client certificate for servers that accept one.
    public static func client(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) throws(TLSError) -> TLSContext {
        let context = try make(TLS_client_method(), minimum: .tls1_2)
        _ = consult_SSL_CTX_set_mode(context, consult_SSL_MODE_ENABLE_PARTIAL_WRITE | consult_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        do throws(TLSError) {
            if let caFile {
                try readable(caFile, what: "CA")
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw TLSError(.file, "CA \(caFile): \(OpenSSLErrors.take())")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw TLSError(.configuration, "the system's trusted CAs: \(OpenSSLErrors.take())")
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            switch (certificateFile, keyFile) {
            case (nil, nil):
                break
            case (let certificateFile?, let keyFile?):
                try use(certificateFile: certificateFile, keyFile: keyFile, in: context)
            default:
                throw TLSError(.configuration, "a client certificate needs both its certificate and its key file")
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        let certificate = SSL_CTX_get0_certificate(context).map(CertificateSummary.init)
        return TLSContext(pointer: context, certificate: certificate)
    }

    private static func make(_ method: OpaquePointer?, minimum: TLSVersion) throws(TLSError) -> OpaquePointer {
        OpenSSLErrors.clear()
        guard let context = SSL_CTX_new(method) else {
            throw TLSError(.configuration, "cannot create a TLS context: \(OpenSSLErrors.take())")
        }
        // An unexpected EOF is how most line clients end (they close without close_notify); lines
        // are framed by their newline, so a truncated stream cannot pass a partial request off as whole.
        _ = SSL_CTX_set_options(context, consult_SSL_OP_IGNORE_UNEXPECTED_EOF | consult_SSL_OP_NO_COMPRESSION)
        guard consult_SSL_CTX_set_min_proto_version(context, minimum.openSSL) == 1,
            // TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all of that kind already).
            SSL_CTX_set_cipher_list(context, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1
        else {
            SSL_CTX_free(context)
            throw TLSError(.configuration, "cannot restrict TLS to 1.2 and newer: \(OpenSSLErrors.take())")
        }
        // Read-ahead stays off (OpenSSL's default): it would save a system call per record, which is
        // immaterial beside the log's commits, and the bench measured no difference in memory with it.
        return context
    }

    /// Says "cannot read" with the system's reason before OpenSSL's vaguer "system lib".
    /// Loads a certificate chain and its key into `context` (a server's, or a client's certificate),
    /// and checks that they belong together. Messages carry OpenSSL's reasons only: a key's bytes
    /// never go into one.
    private static func use(certificateFile: String, keyFile: String, in context: OpaquePointer) throws(TLSError) {
        try readable(certificateFile, what: "certificate")
        try readable(keyFile, what: "key")
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSError(.file, "certificate \(certificateFile): \(OpenSSLErrors.take())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError(.file, OpenSSLErrors.keyMismatch ? "key \(keyFile) does not belong to certificate \(certificateFile): \(OpenSSLErrors.take())"
                : "key \(keyFile): \(OpenSSLErrors.take())")
        }
    }

    private static func readable(_ path: String, what: String) throws(TLSError) {
        guard let file = fopen(path, "r") else {
            throw TLSError(.file, "\(what) \(path): \(String(cString: strerror(errno)))")
        }
        fclose(file)
    }
}

/// What identifies a certificate in logs and tests: never key material.
public struct CertificateSummary: Sendable, Equatable, CustomStringConvertible {
    /// The subject, as OpenSSL's one-line form (`/CN=…/O=…`).
    public let subject: String
    /// The subject's common name, when it has exactly one.
    public let commonName: String?
    /// The serial number in upper-case hexadecimal.
    public let serial: String
    /// SHA-256 of the DER encoding, upper-case hexadecimal without separators.
    public let sha256: String
    public let notAfter: Date?

    init(_ certificate: OpaquePointer) {
        let name = X509_get_subject_name(certificate)
        subject = X509_NAME_oneline(name, nil, 0).map { pointer in
            defer { consult_OPENSSL_free(pointer) }
            return String(cString: pointer)
        } ?? ""
        commonName = Self.commonName(name)
        serial = Self.serial(certificate)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        if X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 {
            sha256 = digest.prefix(Int(length)).map { String(format: "%02X", $0) }.joined()
        } else {
            sha256 = ""
        }
        notAfter = Self.date(X509_get0_notAfter(certificate))
    }

    public var description: String {
        let expiry = notAfter.map { " expires \(ISO8601DateFormatter().string(from: $0))" } ?? ""
        return "\(subject) serial \(serial) sha256 \(sha256)\(expiry)"
    }

    private static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        // A name with two CNs is ambiguous: it names nobody.
        guard index >= 0, X509_NAME_get_index_by_NID(name, NID_commonName, index) < 0,
            let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { consult_OPENSSL_free(utf8) }
        let bytes = UnsafeBufferPointer(start: utf8, count: Int(length))
        // An embedded NUL would let "org-a\0.evil" pass for "org-a" in C; it names nobody here.
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func serial(_ certificate: OpaquePointer) -> String {
        guard let number = ASN1_INTEGER_to_BN(X509_get_serialNumber(certificate), nil) else { return "" }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { consult_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: Double(timegm(&parts)))
    }
}

/// OpenSSL's per-thread error queue, read into words.
enum OpenSSLErrors {
    /// Empties the queue and returns its reasons, oldest first ("unknown" when it was empty).
    static func take() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let reason = ERR_reason_error_string(code) {
                let text = String(cString: reason)
                if !reasons.contains(text) { reasons.append(text) }
            } else {
                reasons.append("error \(String(code, radix: 16))")
            }
        }
        return reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
    }

    static func clear() { ERR_clear_error() }

    /// True when the latest error says a key does not match its certificate.
    static var keyMismatch: Bool {
        let code = ERR_peek_last_error()
        return code != 0 && (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH)
    }
}
