import Foundation
import TLS
import TestSupport
import XCTest

/// `TLSConnection` over a non-blocking socket pair, both ends in this process: what the daemon's
/// Dispatch shell relies on (which readiness each call waits for, retried writes, input held inside
/// OpenSSL, key updates, close_notify), without a daemon or a database.
final class TLSConnectionTests: XCTestCase {
    /// Two connected non-blocking sockets and a TLS connection on each.
    final class Pair {
        let sockets: [Int32]
        let server: TLSConnection
        let client: TLSConnection

        init(serverContext: TLSContext, clientContext: TLSContext) throws {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw TestEnvironmentError(description: "socketpair") }
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            sockets = fds
            server = try TLSConnection(context: serverContext, socket: fds[0], role: .server)
            client = try TLSConnection(context: clientContext, socket: fds[1], role: .client(serverName: "localhost"))
        }

        deinit { sockets.forEach { close($0) } }

        /// Steps both handshakes until each is done or one fails; no call ever blocks.
        func handshake() -> (server: TLSConnection.Outcome, client: TLSConnection.Outcome) {
            var outcomes = (server: TLSConnection.Outcome.wantRead, client: TLSConnection.Outcome.wantRead)
            for _ in 0..<20 {
                outcomes = (server.handshake(), client.handshake())
                if outcomes.server == .done(0) && outcomes.client == .done(0) { break }
                if case .failed = outcomes.server { break }
                if case .failed = outcomes.client { break }
            }
            return outcomes
        }
    }

    var certificates: TestCertificates { get throws { try TestCertificates.shared() } }

    func pair(clientCertificate: TestCertificates.Pair? = nil, clientCA: Bool = false) throws -> Pair {
        let tls = try certificates
        let server = try TLSContext.server(
            certificateFile: tls.server.certificate, keyFile: tls.server.key, clientCAFile: clientCA ? tls.ca : nil)
        let client = try TLSContext.client(caFile: tls.ca, certificateFile: clientCertificate?.certificate, keyFile: clientCertificate?.key)
        return try Pair(serverContext: server, clientContext: client)
    }

    func read(_ connection: TLSConnection, max: Int = 65_536) -> (TLSConnection.Outcome, [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: max)
        let outcome = buffer.withUnsafeMutableBytes { connection.read(into: $0) }
        if case .done(let count) = outcome { return (outcome, Array(buffer.prefix(count))) }
        return (outcome, [])
    }

    func write(_ connection: TLSConnection, _ bytes: [UInt8]) -> TLSConnection.Outcome {
        bytes.withUnsafeBytes { connection.write($0) }
    }

    func testHandshakeWaitsForTheSocketAndAgreesOnTLS13() throws {
        let pair = try pair()
        // Nothing has arrived yet: the server's first step waits for the client's hello.
        XCTAssertEqual(pair.server.handshake(), .wantRead)
        let outcomes = pair.handshake()
        XCTAssertEqual(outcomes.server, .done(0))
        XCTAssertEqual(outcomes.client, .done(0))
        XCTAssertEqual(pair.client.protocolVersion, "TLSv1.3")
        XCTAssertEqual(pair.client.peerCertificate?.commonName, "localhost")
        XCTAssertEqual(pair.client.peerCertificate?.serial, "1001")
        XCTAssertNil(pair.server.verifiedPeerCommonName, "no client certificate was asked for")
        XCTAssertEqual(read(pair.server).0, .wantRead, "nothing to read yet")
    }

    /// A peer that closes with our hello unread resets the connection (a server over its limit does
    /// so): that is the peer closing, as an EOF is, not a failure with errno's words.
    func testAResetDuringTheHandshakeIsAClose() throws {
        let pair = try pair()
        XCTAssertEqual(pair.client.handshake(), .wantRead, "the hello is sent")
        // dup2 closes the server's socket with the hello unread (which resets it) and leaves a
        // descriptor for the pair to close as usual.
        let devNull = open("/dev/null", O_RDONLY)
        defer { close(devNull) }
        XCTAssertEqual(dup2(devNull, pair.sockets[0]), pair.sockets[0])
        XCTAssertEqual(pair.client.handshake(), .closed)
    }

    /// A write that fills the socket waits for writability and is then retried with the same bytes;
    /// what the reader does not take at once stays inside OpenSSL, where `hasBufferedInput` sees it.
    func testAFullSocketMakesTheWriterWaitAndTheReaderFindsBufferedInput() throws {
        let pair = try pair()
        XCTAssertEqual(pair.handshake().server, .done(0))
        let message = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        var sent = 0
        var received: [UInt8] = []
        var waitedToWrite = false
        var sawBufferedInput = false
        while received.count < message.count {
            if sent < message.count {
                switch message[sent...].withUnsafeBytes({ pair.client.write($0) }) {
                case .done(let count): sent += count
                case .wantWrite: waitedToWrite = true
                case let other: return XCTFail("write: \(other)")
                }
            }
            // Small reads: a 16 KiB record is handed out in pieces.
            let (outcome, bytes) = read(pair.server, max: 1_000)
            switch outcome {
            case .done: received += bytes
            case .wantRead: continue
            default: return XCTFail("read: \(outcome)")
            }
            if pair.server.hasBufferedInput { sawBufferedInput = true }
        }
        XCTAssertTrue(waitedToWrite, "4 MiB does not fit a socket buffer")
        XCTAssertTrue(sawBufferedInput)
        XCTAssertEqual(received, message)
    }

    /// A KeyUpdate asked for by the client is read by the server, which answers it with its next write.
    func testKeyUpdatesInBothDirections() throws {
        let pair = try pair()
        XCTAssertEqual(pair.handshake().client, .done(0))
        for round in 0..<3 {
            XCTAssertTrue(pair.client.requestKeyUpdate())
            XCTAssertEqual(write(pair.client, Array("PING \(round)\n".utf8)), .done(7))
            XCTAssertEqual(read(pair.server).1, Array("PING \(round)\n".utf8))
            XCTAssertEqual(write(pair.server, Array("OK PONG\n".utf8)), .done(8))
            XCTAssertEqual(read(pair.client).1, Array("OK PONG\n".utf8))
        }
    }

    /// close_notify ends one direction; the other goes on (how a client says it has sent everything).
    func testCloseNotifyEndsOneDirection() throws {
        let pair = try pair()
        XCTAssertEqual(pair.handshake().client, .done(0))
        XCTAssertEqual(write(pair.client, Array("QUIT\n".utf8)), .done(5))
        pair.client.shutdown()
        XCTAssertEqual(read(pair.server).1, Array("QUIT\n".utf8))
        XCTAssertEqual(read(pair.server).0, .closed)
        XCTAssertEqual(write(pair.server, Array("OK BYE\n".utf8)), .done(7))
        XCTAssertEqual(read(pair.client).1, Array("OK BYE\n".utf8))
        // The end of the stream without close_notify is an end too (most line clients just close).
        pair.server.shutdown()
        shutdown(pair.sockets[0], Int32(SHUT_WR))
        XCTAssertEqual(read(pair.client).0, .closed)
    }

    func testAVerifiedClientCertificateNamesItsOrganisation() throws {
        let tls = try certificates
        let pair = try pair(clientCertificate: tls.clientOrgA, clientCA: true)
        XCTAssertEqual(pair.handshake().server, .done(0))
        XCTAssertEqual(pair.server.verifiedPeerCommonName, "org-a")

        let untrusted = try self.pair(clientCertificate: tls.clientOrgAUntrusted, clientCA: true)
        guard case .failed(let reason) = untrusted.handshake().server else { return XCTFail("an untrusted client certificate is refused") }
        XCTAssertTrue(reason.contains("certificate verify failed"), reason)
    }
}
