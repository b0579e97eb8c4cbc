import DaemonConfiguration
import Foundation
import Logging
import Server
import Transparency
import Trust
import XCTest

/// consultd's options and environment settled into one value, without a database or a file.
final class DaemonConfigurationTests: XCTestCase {
    /// The least consultd starts with: a master key's path (the file is read later).
    private let minimal = ["--master-key-file", "/keys/master.key"]

    private func configure(_ arguments: [String], environment: [String: String] = [:]) throws -> DaemonConfiguration {
        try DaemonConfiguration(options: try DaemonOptions.parse(arguments), environment: environment)
    }

    /// The error `arguments` (with `environment`) are refused with; fails when they are accepted.
    private func refusal(
        _ arguments: [String], environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line
    ) throws -> DaemonConfigurationError? {
        let options = try DaemonOptions.parse(arguments)
        do {
            _ = try DaemonConfiguration(options: options, environment: environment)
            XCTFail("accepted \(arguments)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Runs `body` with the process's environment variable `name` set to `value` (the logging
    /// options read it as their default, while parsing), then puts back what was there.
    private func withVariable(_ name: String, _ value: String?, _ body: () throws -> Void) rethrows {
        let before = ProcessInfo.processInfo.environment[name]
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
        defer { if let before { setenv(name, before, 1) } else { unsetenv(name) } }
        try body()
    }

    func testDefaults() throws {
        try withVariable("CONSULT_LOG_LEVEL", nil) {
            try withVariable("CONSULT_LOG_FORMAT", nil) {
                let settings = try configure(minimal)
                XCTAssertEqual(settings.logLevel, .info)
                XCTAssertEqual(settings.logFormat, .text)
                XCTAssertEqual(settings.masterKeyFile, "/keys/master.key")
                XCTAssertNil(settings.signingKeyFile)
                XCTAssertNil(settings.policyFile)
                XCTAssertNil(settings.requestedOrigin)
                XCTAssertTrue(settings.witnesses.isEmpty)
                XCTAssertEqual(settings.witnessQuorum, 0)
                XCTAssertEqual(settings.checkpointInterval, 10)
                XCTAssertTrue(settings.keepsNotary)
                XCTAssertEqual(settings.connectAttempts, 10)
                XCTAssertEqual(settings.httpHost, "127.0.0.1")
                XCTAssertNil(settings.httpPort)

                let server = settings.server
                XCTAssertEqual(server.host, "127.0.0.1")
                XCTAssertEqual(server.port, 7600)
                XCTAssertEqual(server.conninfo, "", "libpq's PG* variables then decide")
                XCTAssertEqual(server.connection.maxLineLength, 65_536)
                XCTAssertEqual(server.connection.maxReadAheadBytes, 65_536 + 65_536)
                XCTAssertEqual(server.connection.idleTimeout, 300)
                XCTAssertEqual(server.connection.authTimeout, 10)
                XCTAssertEqual(server.connection.lineTimeout, 30)
                XCTAssertEqual(server.connection.maxInFlight, 4_096)
                XCTAssertEqual(server.connection.maxInFlightBytes, 4 << 20)
                XCTAssertEqual(server.connection.maxOutputBytes, 1 << 20)
                XCTAssertEqual(server.maxConnections, 2_048)
                XCTAssertEqual(server.maxUnauthenticated, 512)
                XCTAssertEqual(server.maxQueuedBytes, 64 << 20)
                XCTAssertEqual(server.databaseTimeout, 5)
                XCTAssertEqual(server.readers, 2)
                XCTAssertEqual(server.batchSize, 512)
                XCTAssertEqual(server.batchWait, 0)
                XCTAssertNil(server.tls)
                XCTAssertFalse(server.signsCheckpoints)
                XCTAssertEqual(server.witnessPolicy.quorum, 0)
                XCTAssertTrue(server.witnessPolicy.witnesses.isEmpty)
                XCTAssertFalse(server.requireSynchronousStandby)
            }
        }
    }

    func testOptionsReachTheServer() throws {
        let settings = try configure(minimal + [
            "--database", "dbname=x", "--host", "0.0.0.0", "--port", "0", "--max-line", "1000", "--max-connections", "10",
            "--idle-timeout", "1.5", "--auth-timeout", "2", "--line-timeout", "3", "--max-in-flight", "4", "--max-in-flight-bytes", "5",
            "--max-reply-bytes", "6", "--max-queued-bytes", "7", "--database-timeout", "8", "--readers", "9", "--batch-size", "11",
            "--batch-wait", "0.01", "--require-synchronous-standby", "--connect-attempts", "3", "--policy", "/p.json",
            "--http-port", "0", "--http-host", "10.0.0.1", "--checkpoint-interval", "0.5", "--no-notary",
        ])
        let server = settings.server
        XCTAssertEqual(server.conninfo, "dbname=x")
        XCTAssertEqual(server.host, "0.0.0.0")
        XCTAssertEqual(server.port, 0)
        XCTAssertEqual(server.connection.maxLineLength, 1000)
        XCTAssertEqual(server.connection.maxReadAheadBytes, 1000 + 65_536)
        XCTAssertEqual(server.connection.idleTimeout, 1.5)
        XCTAssertEqual(server.connection.authTimeout, 2)
        XCTAssertEqual(server.connection.lineTimeout, 3)
        XCTAssertEqual(server.connection.maxInFlight, 4)
        XCTAssertEqual(server.connection.maxInFlightBytes, 5)
        XCTAssertEqual(server.connection.maxOutputBytes, 6)
        XCTAssertEqual(server.maxQueuedBytes, 7)
        XCTAssertEqual(server.databaseTimeout, 8)
        XCTAssertEqual(server.readers, 9)
        XCTAssertEqual(server.batchSize, 11)
        XCTAssertEqual(server.batchWait, 0.01)
        XCTAssertEqual(server.maxConnections, 10)
        XCTAssertEqual(server.maxUnauthenticated, 2, "a quarter of --max-connections")
        XCTAssertTrue(server.requireSynchronousStandby)
        XCTAssertEqual(settings.connectAttempts, 3)
        XCTAssertEqual(settings.policyFile, "/p.json")
        XCTAssertEqual(settings.httpPort, 0)
        XCTAssertEqual(settings.httpHost, "10.0.0.1")
        XCTAssertEqual(settings.checkpointInterval, 0.5)
        XCTAssertFalse(settings.keepsNotary)
    }

    func testUnauthenticatedConnections() throws {
        XCTAssertEqual(try configure(minimal + ["--max-connections", "3"]).server.maxUnauthenticated, 1, "never 0")
        XCTAssertEqual(try configure(minimal + ["--max-connections", "3", "--max-unauthenticated", "3"]).server.maxUnauthenticated, 3)
    }

    // MARK: the environment's fallbacks

    func testDatabaseFromTheEnvironment() throws {
        let environment = ["CONSULT_DATABASE_URL": "postgres://env/db"]
        XCTAssertEqual(try configure(minimal, environment: environment).server.conninfo, "postgres://env/db")
        XCTAssertEqual(try configure(minimal + ["--database", "dbname=flag"], environment: environment).server.conninfo, "dbname=flag")
    }

    func testMasterKeyFromTheEnvironment() throws {
        let environment = ["CONSULT_MASTER_KEY_FILE": "/env/master.key"]
        XCTAssertEqual(try configure([], environment: environment).masterKeyFile, "/env/master.key")
        XCTAssertEqual(try configure(minimal, environment: environment).masterKeyFile, "/keys/master.key", "the option wins")
    }

    func testSigningKeyFromTheEnvironment() throws {
        let environment = ["CONSULT_SIGNING_KEY": "/env/signing.key"]
        let settings = try configure(minimal, environment: environment)
        XCTAssertEqual(settings.signingKeyFile, "/env/signing.key")
        XCTAssertTrue(settings.server.signsCheckpoints)
        XCTAssertEqual(try configure(minimal + ["--signing-key", "/flag.key"], environment: environment).signingKeyFile, "/flag.key")
        XCTAssertFalse(try configure(minimal + ["--no-notary"], environment: environment).server.signsCheckpoints,
                       "another consultd signs")
    }

    func testLogOriginFromTheEnvironment() throws {
        XCTAssertEqual(try configure(minimal, environment: ["CONSULT_LOG_ORIGIN": "env.example/log"]).requestedOrigin, "env.example/log")
        XCTAssertNil(try configure(minimal, environment: ["CONSULT_LOG_ORIGIN": ""]).requestedOrigin, "empty is unset")
        XCTAssertEqual(
            try configure(minimal + ["--log-origin", "flag.example/log"], environment: ["CONSULT_LOG_ORIGIN": "env.example/log"]).requestedOrigin,
            "flag.example/log")
    }

    func testTLSFromTheEnvironment() throws {
        let environment = ["CONSULT_TLS_CERT": "/env/cert.pem", "CONSULT_TLS_KEY": "/env/key.pem", "CONSULT_TLS_CLIENT_CA": "/env/ca.pem"]
        let tls = try XCTUnwrap(try configure(minimal, environment: environment).server.tls)
        XCTAssertEqual(tls.certificateFile, "/env/cert.pem")
        XCTAssertEqual(tls.keyFile, "/env/key.pem")
        XCTAssertEqual(tls.clientCAFile, "/env/ca.pem")
        let flags = try XCTUnwrap(
            try configure(minimal + ["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-client-ca", "/ca.pem"], environment: environment).server.tls)
        XCTAssertEqual([flags.certificateFile, flags.keyFile, flags.clientCAFile], ["/c.pem", "/k.pem", "/ca.pem"], "the options win")
        // The certificate from the environment, the key from an option: one pair.
        let mixed = try XCTUnwrap(try configure(minimal + ["--tls-key", "/k.pem"], environment: ["CONSULT_TLS_CERT": "/env/cert.pem"]).server.tls)
        XCTAssertEqual([mixed.certificateFile, mixed.keyFile], ["/env/cert.pem", "/k.pem"])
    }

    /// The logging options take their variable as their default while parsing (so --help shows it).
    func testLoggingFromTheEnvironment() throws {
        try withVariable("CONSULT_LOG_LEVEL", "debug") {
            try withVariable("CONSULT_LOG_FORMAT", "json") {
                let settings = try configure(minimal)
                XCTAssertEqual(settings.logLevel, .debug)
                XCTAssertEqual(settings.logFormat, .json)
                let flags = try configure(minimal + ["--log-level", "error", "--log-format", "text"])
                XCTAssertEqual(flags.logLevel, .error)
                XCTAssertEqual(flags.logFormat, .text)
            }
        }
    }

    // MARK: what is refused, each naming its option

    func testLoggingRefusalsAreUsageErrors() throws {
        let level = try refusal(minimal + ["--log-level", "loud"])
        XCTAssertEqual(level, .unknownLogLevel("loud"))
        XCTAssertEqual(level?.description, "unknown log level loud")
        XCTAssertEqual(level?.option, "--log-level")
        XCTAssertEqual(level?.isUsageError, true)
        let format = try refusal(minimal + ["--log-format", "xml"])
        XCTAssertEqual(format?.description, "--log-format is text or json")
        XCTAssertEqual(format?.option, "--log-format")
        XCTAssertEqual(format?.isUsageError, true)
    }

    func testEachLimitMustBePositive() throws {
        for option in [
            "--max-line", "--max-connections", "--max-unauthenticated", "--idle-timeout", "--auth-timeout", "--line-timeout",
            "--max-in-flight", "--max-in-flight-bytes", "--max-reply-bytes", "--max-queued-bytes", "--database-timeout", "--readers",
            "--batch-size",
        ] {
            let error = try refusal(minimal + [option, "0"])
            XCTAssertEqual(error, .notPositive(option: option))
            XCTAssertEqual(error?.option, option)
            XCTAssertEqual(error?.description, "limits, timeouts, --readers and --batch-size must be positive (--batch-wait may be 0)")
            XCTAssertEqual(error?.isUsageError, false)
        }
        XCTAssertEqual(try refusal(minimal + ["--idle-timeout", "nan"]), .notPositive(option: "--idle-timeout"))
        XCTAssertEqual(try refusal(minimal + ["--batch-wait=-1"]), .notPositive(option: "--batch-wait"))
        XCTAssertEqual(try configure(minimal + ["--batch-wait", "0"]).server.batchWait, 0)
    }

    func testTheMasterKeyIsRequired() throws {
        let error = try refusal([])
        XCTAssertEqual(error, .noMasterKey)
        XCTAssertEqual(error?.option, "--master-key-file")
        XCTAssertEqual(error?.description, "no master key: give --master-key-file FILE (make one with `consultctl keys generate-master`)")
    }

    func testCheckpointIntervalMustBePositive() throws {
        let error = try refusal(minimal + ["--checkpoint-interval", "0"])
        XCTAssertEqual(error?.option, "--checkpoint-interval")
        XCTAssertEqual(error?.description, "--checkpoint-interval must be positive")
    }

    // MARK: TLS

    func testTLSOnThePortItself() throws {
        let tls = try XCTUnwrap(try configure(minimal + ["--tls-cert", "/c.pem", "--tls-key", "/k.pem"]).server.tls)
        XCTAssertEqual(tls.certificateFile, "/c.pem")
        XCTAssertEqual(tls.keyFile, "/k.pem")
        XCTAssertNil(tls.clientCAFile)
        XCTAssertNil(tls.port, "TLS on --port")
        XCTAssertNil(tls.host)
        XCTAssertFalse(tls.required)
    }

    func testTLSBesidePlain() throws {
        let tls = try XCTUnwrap(
            try configure(minimal + [
                "--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-client-ca", "/ca.pem", "--tls-port", "7643", "--tls-host", "0.0.0.0",
                "--require-tls",
            ]).server.tls)
        XCTAssertEqual(tls.clientCAFile, "/ca.pem")
        XCTAssertEqual(tls.port, 7643)
        XCTAssertEqual(tls.host, "0.0.0.0")
        XCTAssertTrue(tls.required)
    }

    func testCertificateAndKeyGoTogether() throws {
        let certificateAlone = try refusal(minimal + ["--tls-cert", "/c.pem"])
        XCTAssertEqual(certificateAlone, .tlsIncompletePair(missing: "--tls-key"))
        XCTAssertEqual(certificateAlone?.description, "--tls-cert and --tls-key go together")
        XCTAssertEqual(try refusal(minimal + ["--tls-key", "/k.pem"])?.option, "--tls-cert")
        XCTAssertEqual(try refusal(minimal, environment: ["CONSULT_TLS_KEY": "/k.pem"])?.option, "--tls-cert")
    }

    func testTLSOptionsNeedACertificate() throws {
        let cases: [([String], [String: String], String)] = [
            (["--tls-client-ca", "/ca.pem"], [:], "--tls-client-ca"),
            ([], ["CONSULT_TLS_CLIENT_CA": "/ca.pem"], "--tls-client-ca"),
            (["--tls-port", "7643"], [:], "--tls-port"),
            (["--tls-host", "0.0.0.0"], [:], "--tls-host"),
            (["--require-tls"], [:], "--require-tls"),
        ]
        for (arguments, environment, option) in cases {
            let error = try refusal(minimal + arguments, environment: environment)
            XCTAssertEqual(error, .tlsWithoutCertificate(option: option))
            XCTAssertEqual(error?.description, "--tls-client-ca, --tls-port, --tls-host and --require-tls need --tls-cert and --tls-key")
        }
    }

    // MARK: witnesses

    private func witnessKey(_ name: String, type: SignatureType = .cosignatureV1) throws -> String {
        try SignerKey.generate(name: name, type: type).verifierKey.text
    }

    func testWitnessesAndTheirMajority() throws {
        let keys = try (1...3).map { try witnessKey("w\($0).example/witness") }
        let one = try configure(minimal + ["--witness", "\(keys[0]) http://127.0.0.1:7000/"])
        XCTAssertEqual(one.witnesses.map(\.url), ["http://127.0.0.1:7000"])
        XCTAssertEqual(one.witnesses.map(\.key.text), [keys[0]])
        XCTAssertEqual(one.witnessQuorum, 1)
        XCTAssertEqual(one.server.witnessPolicy.quorum, 1)
        XCTAssertEqual(one.server.witnessPolicy.witnesses.map(\.text), [keys[0]])
        let arguments = keys.enumerated().flatMap { ["--witness", "\($1) http://127.0.0.1:\(7000 + $0)"] }
        XCTAssertEqual(try configure(minimal + Array(arguments.prefix(4))).witnessQuorum, 2, "2 of 2")
        XCTAssertEqual(try configure(minimal + arguments).witnessQuorum, 2, "2 of 3")
        XCTAssertEqual(try configure(minimal + arguments + ["--witness-quorum", "0"]).server.witnessPolicy.quorum, 0)
        XCTAssertEqual(try configure(minimal + arguments + ["--witness-quorum", "3"]).witnessQuorum, 3)
    }

    func testWitnessQuorumWithinTheWitnesses() throws {
        let key = try witnessKey("w.example/witness")
        let error = try refusal(minimal + ["--witness", "\(key) http://127.0.0.1:7000", "--witness-quorum", "2"])
        XCTAssertEqual(error, .witnessQuorum(2, witnesses: 1))
        XCTAssertEqual(error?.option, "--witness-quorum")
        XCTAssertEqual(error?.description, "--witness-quorum 2: between 0 and the number of --witness (1)")
        XCTAssertEqual(try refusal(minimal + ["--witness-quorum=-1"])?.description, "--witness-quorum -1: between 0 and the number of --witness (0)")
        XCTAssertEqual(try refusal(minimal + ["--witness-quorum", "1"]), .witnessQuorum(1, witnesses: 0))
    }

    func testUnusableWitnesses() throws {
        let noURL = try refusal(minimal + ["--witness", "just-one-word"])
        XCTAssertEqual(noURL?.option, "--witness")
        XCTAssertEqual(noURL?.description, "--witness \"just-one-word\": give the witness's vkey and its URL, separated by a space")
        let noteKey = try witnessKey("log.example/log", type: .ed25519)
        XCTAssertEqual(
            try refusal(minimal + ["--witness", "\(noteKey) http://127.0.0.1:7000"])?.description,
            "--witness: log.example/log's vkey is not a cosignature (type 0x04) key")
        let key = try witnessKey("w.example/witness")
        XCTAssertTrue(try refusal(minimal + ["--witness", "\(key) https://w.example"])?.description.hasPrefix("--witness: https://w.example is not") == true)
    }
}
