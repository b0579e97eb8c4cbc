import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import TLS
import TestSupport
import XCTest

/// TLS on the submission port, against a real daemon over real TCP with certificates made by the
/// `openssl` command for this run (`TestCertificates`). The protocol and hostile-input tests run over
/// TLS too (`ProtocolTests` and `HostileInputTests`, the tests named `…OverTLS`).
final class TLSTests: XCTestCase {
    var certificates: TestCertificates { get throws { try TestCertificates.shared() } }

    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        try TestDatabase.run(try TestDatabase.executable(program), arguments, environment: environment)
    }

    /// `openssl s_client` against 127.0.0.1:`port` with stdin closed: it shakes hands, prints what
    /// it got and ends.
    func sClient(port: UInt16, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try TestDatabase.run(
            "/usr/bin/env", ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", try certificates.ca] + arguments)
        return (result.status, result.stdout + result.stderr)
    }

    func testRoundTripOverTLSBesideThePlainPort() throws {
        let tls = try certificates
        let fixture = try Fixture(daemonArguments: [
            "--tls-cert", tls.server.certificate, "--tls-key", tls.server.key, "--tls-port", "0",
        ])
        let tlsPort = try XCTUnwrap(fixture.daemon.tlsPort, fixture.daemon.log)
        XCTAssertNotEqual(tlsPort, fixture.daemon.port)

        let client = try LineClient(port: tlsPort, tls: TLSClientConfiguration(caFile: tls.ca))
        XCTAssertEqual(client.tlsVersion, "TLSv1.3")
        XCTAssertEqual(client.serverCertificate?.serial, try TestCertificates.serial(of: tls.server.certificate))
        XCTAssertEqual(try client.request("AUTH org-a \(fixture.tokens["org-a"]!)"), "OK AUTH org-a")
        XCTAssertTrue(try client.request("CONSULTATIONS").contains(#""id":"c1""#))
        let submitted = try client.request("SUBMIT c1 over-tls \(Fixture.body)")
        XCTAssertTrue(submitted.hasPrefix("OK SUBMIT over-tls "), submitted)
        XCTAssertTrue(try client.request("STATUS c1 over-tls").contains(#""state":"received""#))
        // A key update asked of the daemon is read by it and answered through its next write.
        for _ in 0..<3 {
            XCTAssertTrue(client.requestKeyUpdate())
            XCTAssertEqual(try client.request("PING"), "OK PONG")
        }
        XCTAssertEqual(try client.request("QUIT"), "OK BYE")
        XCTAssertNil(try client.readLine())

        // The plain port serves at the same time, and the log records which transport each came by.
        XCTAssertTrue(try fixture.client().request("SUBMIT c1 in-clear \(Fixture.body)").hasPrefix("OK SUBMIT in-clear "))
        let transports = try fixture.store.connection.execute(
            "SELECT data->>'key' AS key, metadata->>'transport' AS transport FROM consult.events WHERE type = $1 ORDER BY position",
            [EventType.submissionReceived]
        ).rows.map { "\(try $0.get("key", as: String.self))=\(try $0.get("transport", as: String.self))" }
        XCTAssertEqual(transports, ["over-tls=tls", "in-clear=tcp"])

        // A TLS 1.2 client is served too (another implementation: OpenSSL's own client).
        let twelve = try sClient(port: tlsPort, ["-tls1_2", "-brief"])
        XCTAssertEqual(twelve.status, 0, twelve.output)
        XCTAssertTrue(twelve.output.contains("Protocol version: TLSv1.2"), twelve.output)
    }

    /// `--tls-host`: TLS on an address of its own while plain TCP stays on another (127.0.0.2 is
    /// loopback too on Linux, standing in for a public address).
    func testTheTLSPortListensOnItsOwnAddress() throws {
        let tls = try certificates
        let fixture = try Fixture(daemonArguments: [
            "--tls-cert", tls.server.certificate, "--tls-key", tls.server.key, "--tls-port", "0", "--tls-host", "127.0.0.2",
        ])
        let tlsPort = try XCTUnwrap(fixture.daemon.tlsPort)
        XCTAssertTrue(fixture.daemon.log.contains("listening_tls=127.0.0.2:\(tlsPort)"), fixture.daemon.log)
        let client = try LineClient(host: "127.0.0.2", port: tlsPort, tls: TLSClientConfiguration(caFile: tls.ca, serverName: "localhost"))
        XCTAssertEqual(try client.request("PING"), "OK PONG")
        XCTAssertThrowsError(try LineClient(host: "127.0.0.1", port: tlsPort, tls: TLSClientConfiguration(caFile: tls.ca)))
        XCTAssertThrowsError(try LineClient(host: "127.0.0.2", port: fixture.daemon.port))
        XCTAssertEqual(try fixture.client().request("PING"), "OK PONG", "plain TCP on 127.0.0.1")
    }

    func testOldProtocolsAndPlainClientsAreRefusedWhenTLSIsRequired() throws {
        let tls = try certificates
        let fixture = try Fixture(daemonArguments: [
            "--tls-cert", tls.server.certificate, "--tls-key", tls.server.key, "--tls-port", "0", "--require-tls",
        ])
        let tlsPort = try XCTUnwrap(fixture.daemon.tlsPort)

        // A plain client gets one line saying where TLS is, and the connection closes.
        let plain = try LineClient(port: fixture.daemon.port, readGreeting: false)
        XCTAssertEqual(try plain.readAll(), ["ERR PROTOCOL TLS required: connect with TLS to port \(tlsPort)"])

        // Someone typing plain text at the TLS port is told what it speaks.
        let typist = try LineClient(port: tlsPort, readGreeting: false)
        try typist.send("PING")
        XCTAssertEqual(try typist.readAll(), ["ERR PROTOCOL this port speaks TLS; connect with TLS"])

        // A TLS 1.1 client (allowed to offer 1.1 by security level 0) reaches the server, which refuses it.
        let old = try sClient(port: tlsPort, ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        XCTAssertNotEqual(old.status, 0, old.output)
        XCTAssertTrue(old.output.contains("alert protocol version"), old.output)
        XCTAssertTrue(fixture.daemon.waitForLog("reason=unsupported protocol"), fixture.daemon.log)

        // TLS 1.3 on the same port works.
        let client = try LineClient(port: tlsPort, tls: TLSClientConfiguration(caFile: tls.ca))
        XCTAssertEqual(try client.request("AUTH org-b \(fixture.tokens["org-b"]!)"), "OK AUTH org-b")
    }

    /// consultctl checks the server's certificate: its expiry, its issuer and its name, with a clear
    /// error for each; nothing is sent when the check fails.
    func testAnExpiredOrWrongCertificateFailsTheClientsCheck() throws {
        let tls = try certificates
        let cases: [(TestCertificates.Pair, String, expected: String)] = [
            (tls.expired, "127.0.0.1", "certificate verify failed: certificate has expired"),
            (tls.untrusted, "127.0.0.1", "certificate verify failed: unable to get local issuer certificate"),
            (tls.wrongName, "127.0.0.1", "certificate verify failed: IP address mismatch"),
            (tls.wrongName, "localhost", "certificate verify failed: hostname mismatch"),
        ]
        for (pair, host, expected) in cases {
            let fixture = try Fixture(transport: .tlsWith(pair))
            let result = try run(
                "consultctl",
                ["submit", "--host", host, "--port", String(fixture.daemon.port), "--tls", "--ca", tls.ca, "--organisation", "org-a",
                 "--consultation", "c1", "--key", "k", "--body", Fixture.body],
                environment: ["CONSULT_TOKEN": fixture.tokens["org-a"]!])
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(
                result.stderr, "consultctl: TLS with consultd at \(host):\(fixture.daemon.port) failed: \(expected)\n")
            if pair.certificate == tls.expired.certificate {
                XCTAssertTrue(fixture.daemon.log.contains("the TLS certificate has expired"), fixture.daemon.log)
            }
            XCTAssertEqual(try fixture.storedSubmissions(), [:])
        }
        // The right certificate, by name and by address.
        let fixture = try Fixture(transport: .tls)
        for host in ["localhost", "127.0.0.1"] {
            let result = try run(
                "consultctl",
                ["submit", "--host", host, "--port", String(fixture.daemon.port), "--tls", "--ca", tls.ca, "--organisation", "org-a",
                 "--consultation", "c1", "--key", "k-\(host)", "--body", Fixture.body],
                environment: ["CONSULT_TOKEN": fixture.tokens["org-a"]!])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.hasPrefix("OK SUBMIT k-\(host) "), result.stdout)
        }
    }

    func testSIGHUPSwapsTheCertificateWhileOpenConnectionsGoOn() throws {
        let tls = try certificates
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let live = TestCertificates.Pair(certificate: folder.appendingPathComponent("live.pem").path, key: folder.appendingPathComponent("live.key").path)
        // Puts `pair` in place as a renewal tool does: whole files, renamed over the old ones.
        func install(_ pair: TestCertificates.Pair) throws {
            for (source, target) in [(pair.certificate, live.certificate), (pair.key, live.key)] {
                let staged = target + ".new"
                try? FileManager.default.removeItem(atPath: staged)
                try FileManager.default.copyItem(atPath: source, toPath: staged)
                guard rename(staged, target) == 0 else { throw TestEnvironmentError(description: "rename failed") }
            }
        }
        try install(tls.server)
        let fixture = try Fixture(transport: .tlsWith(live))
        let before = try fixture.client()
        XCTAssertEqual(before.serverCertificate?.serial, try TestCertificates.serial(of: tls.server.certificate))

        try install(tls.renewed)
        fixture.daemon.send(SIGHUP)
        XCTAssertTrue(fixture.daemon.waitForLog("TLS certificate reloaded"), fixture.daemon.log)
        let after = try fixture.client()
        XCTAssertEqual(after.serverCertificate?.serial, try TestCertificates.serial(of: tls.renewed.certificate))
        XCTAssertEqual(after.serverCertificate?.sha256, try TestCertificates.sha256(of: tls.renewed.certificate))
        // The connection opened before the swap goes on, on the old certificate.
        XCTAssertTrue(try before.request("SUBMIT c1 across-reload \(Fixture.body)").hasPrefix("OK SUBMIT across-reload "))
        XCTAssertEqual(before.serverCertificate?.serial, "1001")

        // A broken file is reported, and the daemon keeps serving the last good certificate.
        try "not a key".write(toFile: live.key, atomically: true, encoding: .utf8)
        fixture.daemon.send(SIGHUP)
        XCTAssertTrue(fixture.daemon.waitForLog("TLS reload failed"), fixture.daemon.log)
        XCTAssertTrue(fixture.daemon.log.contains(live.key), "the message names the file: \(fixture.daemon.log)")
        XCTAssertEqual(try fixture.client().serverCertificate?.serial, "1002")
        XCTAssertEqual(try before.request("PING"), "OK PONG")
        XCTAssertEqual(try after.request("PING"), "OK PONG")
        XCTAssertEqual(kill(fixture.daemon.pid, 0), 0, "SIGHUP does not stop the daemon")
    }

    /// A client that opens a connection and never finishes the TLS handshake (silent, or stopping
    /// part way through its ClientHello) is closed at the deadline to authenticate, counted from
    /// the moment it connected; one that finishes it and never authenticates is told, over TLS.
    func testAStalledHandshakeIsClosedAtTheDeadlineToAuthenticate() throws {
        let fixture = try Fixture(daemonArguments: ["--auth-timeout", "1"], transport: .tls)
        let started = Date()
        let silent = try LineClient(port: fixture.daemon.port, readGreeting: false)
        let partial = try LineClient(port: fixture.daemon.port, readGreeting: false)
        // A handshake record announcing 512 bytes, a ClientHello announcing 508, and then nothing.
        try partial.send(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0x2A, count: 32))
        let finishedButSilent = try fixture.connect()

        XCTAssertNil(try silent.readLine(), "closed without a word (no TLS to say it in)")
        XCTAssertNil(try partial.readLine())
        let closedAfter = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(closedAfter, 0.9)
        XCTAssertLessThan(closedAfter, 3, "closed at the 1 s deadline")
        XCTAssertEqual(try finishedButSilent.readLine(), "ERR TIMEOUT not authenticated within 1 s; closing")
        XCTAssertNil(try finishedButSilent.readLine())
        XCTAssertEqual(try fixture.client().request("PING"), "OK PONG", "the daemon serves on")
    }

    /// With --tls-client-ca, a client certificate whose subject CN is an organisation id stands in
    /// for that organisation's token: `AUTH <organisation-id>` without one.
    func testAClientCertificateStandsInForTheToken() throws {
        let tls = try certificates
        let fixture = try Fixture(daemonArguments: ["--tls-client-ca", tls.ca], transport: .tls)
        func connect(_ pair: TestCertificates.Pair?) throws -> LineClient {
            try LineClient(
                port: fixture.daemon.port,
                tls: TLSClientConfiguration(caFile: tls.ca, certificateFile: pair?.certificate, keyFile: pair?.key))
        }
        let withCertificate = try connect(tls.clientOrgA)
        XCTAssertEqual(try withCertificate.request("AUTH org-a"), "OK AUTH org-a")
        XCTAssertTrue(try withCertificate.request("SUBMIT c1 by-certificate \(Fixture.body)").hasPrefix("OK SUBMIT by-certificate "))

        // The certificate names org-a only; a token still works beside it.
        let otherName = try connect(tls.clientOrgA)
        XCTAssertEqual(try otherName.request("AUTH org-b"), "ERR AUTH invalid credential")
        XCTAssertEqual(try otherName.request("AUTH org-b \(fixture.tokens["org-b"]!)"), "OK AUTH org-b")
        // Without a certificate, AUTH needs its token.
        let without = try connect(nil)
        XCTAssertEqual(try without.request("AUTH org-a"), "ERR AUTH invalid credential")
        XCTAssertEqual(try without.request("AUTH org-a \(fixture.tokens["org-a"]!)"), "OK AUTH org-a")
        // A certificate from a CA the daemon does not trust ends the handshake.
        XCTAssertThrowsError(try connect(tls.clientOrgAUntrusted))

        // consultctl submit with the certificate and no token.
        let submitted = try run(
            "consultctl",
            ["submit", "--port", String(fixture.daemon.port), "--tls", "--ca", tls.ca, "--client-cert", tls.clientOrgB.certificate,
             "--client-key", tls.clientOrgB.key, "--organisation", "org-b", "--consultation", "c1", "--key", "ctl-cert", "--body", Fixture.body])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        XCTAssertTrue(submitted.stdout.hasPrefix("OK SUBMIT ctl-cert "), submitted.stdout)

        // Revoking the organisation's credentials shuts its certificate out too (once the daemon's
        // registry hears of it, within milliseconds).
        let revoked = try run("consultctl", ["org", "revoke", "--id", "org-a", "--database", fixture.conninfo])
        XCTAssertEqual(revoked.status, 0, revoked.stderr)
        let deadline = Date().addingTimeInterval(5)
        var reply = ""
        while Date() < deadline {
            reply = try connect(tls.clientOrgA).request("AUTH org-a")
            if reply == "ERR AUTH invalid credential" { break }
        }
        XCTAssertEqual(reply, "ERR AUTH invalid credential")

        // Off by default: without --tls-client-ca no certificate is asked for, and none stands in.
        let plainTLS = try Fixture(transport: .tls)
        let unasked = try LineClient(
            port: plainTLS.daemon.port,
            tls: TLSClientConfiguration(caFile: tls.ca, certificateFile: tls.clientOrgA.certificate, keyFile: tls.clientOrgA.key))
        XCTAssertEqual(try unasked.request("AUTH org-a"), "ERR AUTH invalid credential")
    }

    /// A certificate or key that cannot be used stops consultd before it does anything, with one
    /// line naming the file and OpenSSL's reason.
    func testUnusableCertificateFilesStopTheDaemonWithOneLine() throws {
        let tls = try certificates
        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(UUID().uuidString).pem").path
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let cases: [([String], String)] = [
            (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", tls.server.key],
             "consultd: cannot use TLS: certificate /nonexistent/cert.pem: No such file or directory\n"),
            (["--tls-cert", garbage, "--tls-key", tls.server.key], "consultd: cannot use TLS: certificate \(garbage): "),
            (["--tls-cert", tls.server.certificate, "--tls-key", garbage], "consultd: cannot use TLS: key \(garbage): "),
            (["--tls-cert", tls.server.certificate, "--tls-key", tls.renewed.key],
             "consultd: cannot use TLS: key \(tls.renewed.key) does not belong to certificate \(tls.server.certificate): "),
            (["--tls-cert", tls.server.certificate], "consultd: --tls-cert and --tls-key go together\n"),
            (["--require-tls"], "consultd: --tls-client-ca, --tls-port, --tls-host and --require-tls need --tls-cert and --tls-key\n"),
        ]
        for (arguments, expected) in cases {
            // No database is reached: the files are checked first.
            let result = try run("consultd", ["--database", "host=127.0.0.1 port=1", "--connect-attempts", "1"] + arguments)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix(expected), result.stderr)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("PRIVATE KEY"), "never key material")
        }
    }

    /// docs/PROTOCOL.md's Python client, as printed there, against a daemon with TLS.
    func testThePythonClientInTheProtocolPageWorks() throws {
        let page = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        let start = try XCTUnwrap(page.range(of: "```python\n"))
        let end = try XCTUnwrap(page.range(of: "```", range: start.upperBound..<page.endIndex))
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("client-\(UUID().uuidString).py")
        try String(page[start.upperBound..<end.lowerBound]).write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }

        let fixture = try Fixture(transport: .tls)
        try fixture.store.append(NewEvent(.consultationOpened(Consultation(
            id: "edu-2027", title: "Education access 2027", convener: "UNHCR-JO", opensAt: Date().addingTimeInterval(-86_400),
            closesAt: Date().addingTimeInterval(86_400), stages: ["design", "implementation"], languages: ["ar", "en"],
            baseline: ["gender": ["female": 0.5, "male": 0.5]]))))
        let result = try TestDatabase.run(
            "/usr/bin/env", ["python3", script.path, "localhost", String(fixture.daemon.port), try certificates.ca],
            environment: ["CONSULT_ORGANISATION": "org-a", "CONSULT_TOKEN": fixture.tokens["org-a"]!])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, result.stdout)
        XCTAssertEqual(lines.first, "OK AUTH org-a")
        XCTAssertTrue(lines.dropFirst().first?.hasPrefix("OK SUBMIT sub-003 ") == true, result.stdout)
        XCTAssertEqual(lines.last, "OK BYE")
    }

    /// The demo loads through TLS when the daemon accepts nothing else.
    func testTheDemoSpeaksTLS() throws {
        let tls = try certificates
        let fixture = try Fixture(daemonArguments: [
            "--tls-cert", tls.server.certificate, "--tls-key", tls.server.key, "--tls-port", "0", "--require-tls",
        ])
        let plain = try run("consultctl", ["demo", "--port", String(fixture.daemon.port), "--database", fixture.conninfo])
        XCTAssertEqual(plain.status, 1)
        XCTAssertTrue(plain.stderr.contains("ERR PROTOCOL TLS required"), plain.stderr)
        let loaded = try run(
            "consultctl",
            ["demo", "--port", String(try XCTUnwrap(fixture.daemon.tlsPort)), "--tls", "--ca", tls.ca, "--database", fixture.conninfo])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        XCTAssertEqual(loaded.stdout, "demo loaded: 60 organisations, 6 consultations, 3700 submissions\n")
    }
}
