import ArgumentParser
import Foundation
import LineClient

/// Where consultd is and how to reach it: the options of every command that speaks the protocol.
struct ConsultdOptions: ParsableArguments {
    @Option(help: "consultd's address (an IP address or a host name).") var host = "127.0.0.1"
    @Option(help: "consultd's port.") var port: UInt16 = 7600
    @Flag(help: "Speak TLS (1.2 or newer), verifying consultd's certificate and its name.") var tls = false
    @Option(help: "With --tls: the CA certificate (PEM) that signed consultd's certificate (default: the system's trusted CAs).")
    var ca: String?
    @Option(help: "With --tls: your organisation's client certificate (PEM), where the operator accepts one instead of the token.")
    var clientCert: String?
    @Option(help: "With --tls: the client certificate's private key (PEM).") var clientKey: String?
    @Option(help: "With --tls: the name consultd's certificate must carry (default: --host).") var serverName: String?

    func validate() throws {
        if !tls && (ca != nil || clientCert != nil || clientKey != nil || serverName != nil) {
            throw ValidationError("--ca, --client-cert, --client-key and --server-name need --tls")
        }
        if (clientCert == nil) != (clientKey == nil) {
            throw ValidationError("--client-cert and --client-key go together")
        }
    }

    /// True when a client certificate may stand in for the token.
    var hasClientCertificate: Bool { clientCert != nil }

    /// The TLS settings, made once (a context is shared by every connection of a command).
    func tlsConfiguration() throws -> TLSClientConfiguration? {
        guard tls else { return nil }
        return try TLSClientConfiguration(caFile: ca, certificateFile: clientCert, keyFile: clientKey, serverName: serverName)
    }

    /// A connection to consultd that has read the greeting.
    func connect(timeout: Double = 30, tls configuration: TLSClientConfiguration? = nil) throws -> LineClient {
        try LineClient(host: host, port: port, timeout: timeout, tls: configuration ?? tlsConfiguration())
    }

    /// The AUTH line: with the token, or (no token, a client certificate given) without one.
    static func auth(_ organisation: String, token: String?) -> String {
        token.map { "AUTH \(organisation) \($0)" } ?? "AUTH \(organisation)"
    }
}
