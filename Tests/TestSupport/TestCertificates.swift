import Foundation

/// Throwaway certificates for the TLS tests, made once per test run with the `openssl` command
/// (Debian package `openssl`; scripts/with-postgres installs it when missing). Elliptic-curve keys
/// (P-256), because they are quick to make. Every path is a PEM file in one temporary folder.
public struct TestCertificates: Sendable {
    /// A pair of PEM files: a certificate and its private key.
    public struct Pair: Sendable {
        public let certificate: String
        public let key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public let folder: String
    /// The CA that clients trust and that signs client certificates the daemon accepts.
    public let ca: String
    /// For localhost and 127.0.0.1, serial 1001, signed by `ca`.
    public let server: Pair
    /// The renewal of `server`: a new key, serial 1002, signed by `ca`.
    public let renewed: Pair
    /// For localhost and 127.0.0.1, signed by `ca`, valid only in January 2020.
    public let expired: Pair
    /// For localhost and 127.0.0.1, signed by another CA that nobody trusts.
    public let untrusted: Pair
    /// Signed by `ca` for the name `elsewhere.example` only.
    public let wrongName: Pair
    /// Client certificates (CN = the organisation id) signed by `ca`.
    public let clientOrgA: Pair
    public let clientOrgB: Pair
    /// A client certificate for org-a signed by the untrusted CA.
    public let clientOrgAUntrusted: Pair

    /// Made on first use; a failure to make them fails every test that needs them.
    public static func shared() throws -> TestCertificates { try made.get() }

    private static let made = Result { try TestCertificates() }

    private init() throws {
        // Inside the throwaway cluster's folder when there is one: scripts/with-postgres removes it
        // (and so these keys) when the run ends.
        let base = ProcessInfo.processInfo.environment["CONSULT_TEST_PGCTL"].map { URL(fileURLWithPath: $0).deletingLastPathComponent() }
            ?? FileManager.default.temporaryDirectory
        folder = base.appendingPathComponent("consultd-certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let folder = self.folder
        func path(_ name: String) -> String { "\(folder)/\(name)" }
        func openssl(_ arguments: [String]) throws {
            let result = try TestDatabase.run("/usr/bin/env", ["openssl"] + arguments)
            guard result.status == 0 else {
                throw TestEnvironmentError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stderr)")
            }
        }
        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        func authority(_ name: String, _ subject: String) throws {
            try openssl(["req", "-x509"] + curve + [
                "-keyout", path("\(name).key"), "-out", path("\(name).pem"), "-days", "3650", "-subj", "/CN=\(subject)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        try authority("ca", "consultd test CA")
        try authority("other-ca", "nobody's CA")
        try write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try write("elsewhere.ext", "subjectAltName=DNS:elsewhere.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try write("client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        // A new key and a certificate for it signed by `issuer`.
        func leaf(_ name: String, subject: String, issuer: String, serial: String, extensions: String) throws -> Pair {
            try openssl(["req", "-new"] + curve + ["-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=\(subject)"])
            try openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(issuer).pem"), "-CAkey", path("\(issuer).key"),
                "-set_serial", serial, "-days", "3650", "-extfile", path(extensions), "-out", path("\(name).pem"),
            ])
            return Pair(certificate: path("\(name).pem"), key: path("\(name).key"))
        }
        ca = path("ca.pem")
        server = try leaf("server", subject: "localhost", issuer: "ca", serial: "0x1001", extensions: "server.ext")
        renewed = try leaf("renewed", subject: "localhost", issuer: "ca", serial: "0x1002", extensions: "server.ext")
        untrusted = try leaf("untrusted", subject: "localhost", issuer: "other-ca", serial: "0x1003", extensions: "server.ext")
        wrongName = try leaf("elsewhere", subject: "elsewhere.example", issuer: "ca", serial: "0x1004", extensions: "elsewhere.ext")
        clientOrgA = try leaf("client-org-a", subject: "org-a", issuer: "ca", serial: "0x2001", extensions: "client.ext")
        clientOrgB = try leaf("client-org-b", subject: "org-b", issuer: "ca", serial: "0x2002", extensions: "client.ext")
        clientOrgAUntrusted = try leaf("client-org-a-untrusted", subject: "org-a", issuer: "other-ca", serial: "0x2003", extensions: "client.ext")

        // OpenSSL 3.0's `x509` cannot backdate a certificate (-not_before came in 3.4); its `ca`
        // command can, given a small database of its own.
        try FileManager.default.createDirectory(atPath: path("ca-db"), withIntermediateDirectories: true)
        try write("ca-db/index.txt", "")
        try write("ca-db/serial", "1005\n")
        try write("ca.cnf", """
            [ca]
            default_ca = throwaway
            [throwaway]
            database = \(path("ca-db/index.txt"))
            new_certs_dir = \(path("ca-db"))
            serial = \(path("ca-db/serial"))
            default_md = sha256
            policy = anything
            unique_subject = no
            [anything]
            commonName = supplied
            [server]
            subjectAltName = DNS:localhost,IP:127.0.0.1
            basicConstraints = CA:FALSE
            extendedKeyUsage = serverAuth

            """)
        try openssl(["req", "-new"] + curve + ["-keyout", path("expired.key"), "-out", path("expired.csr"), "-subj", "/CN=localhost"])
        try openssl([
            "ca", "-batch", "-config", path("ca.cnf"), "-cert", path("ca.pem"), "-keyfile", path("ca.key"), "-in", path("expired.csr"),
            "-out", path("expired.pem"), "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extensions", "server",
            "-notext",
        ])
        expired = Pair(certificate: path("expired.pem"), key: path("expired.key"))
    }

    /// The serial number of a certificate file as `openssl x509 -serial` prints it ("1001").
    public static func serial(of certificate: String) throws -> String {
        try x509(["-serial"], certificate)
    }

    /// The SHA-256 fingerprint of a certificate file, upper-case hexadecimal without colons.
    public static func sha256(of certificate: String) throws -> String {
        try x509(["-fingerprint", "-sha256"], certificate).replacingOccurrences(of: ":", with: "")
    }

    /// What `openssl x509 -noout FLAGS` prints after its "=".
    private static func x509(_ flags: [String], _ certificate: String) throws -> String {
        let result = try TestDatabase.run("/usr/bin/env", ["openssl", "x509", "-noout"] + flags + ["-in", certificate])
        guard result.status == 0, let value = result.stdout.split(separator: "=", maxSplits: 1).last else {
            throw TestEnvironmentError(description: "openssl x509 \(flags.joined(separator: " ")) failed: \(result.stderr)")
        }
        return value.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
