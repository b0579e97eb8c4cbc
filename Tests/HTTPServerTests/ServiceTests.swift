import Foundation
import HTTPServer
import XCTest

/// The server over loopback sockets: keep-alive with pipelining, HEAD, and the connection bound.
final class ServiceTests: XCTestCase {
    func start(_ limits: HTTPService.Limits) throws -> (HTTPService, UInt16) {
        let service = HTTPService(host: "127.0.0.1", port: 0, purpose: "test", backlog: 16, limits: limits) { request in
            HTTPResponse(status: request.path == "/" ? 200 : 404, text: "\(request.method) \(request.path) \(request.body.count)\n")
        }
        let port = try service.start()
        addTeardownBlock { service.stop() }
        return (service, port)
    }

    func testPipelinedRequestsOnOneConnectionAreAnsweredInOrder() throws {
        let (_, port) = try start(HTTPService.Limits(
            maxConnections: 4, whenFull: .refuseNew, rules: HTTPRequestRules(maxBytes: 1000), requestTimeout: 5, maxRequestsPerConnection: 10))
        let client = try Client(port: port)
        try client.send("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcHEAD /x HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        let answer = try client.readToEnd()
        XCTAssertEqual(answer, """
            HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\nCache-Control: no-store\r\n\r\nPOST / 3
            HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\nCache-Control: no-store\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 8\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nGET / 0

            """)
    }

    func testTheOldestConnectionMakesRoomAndAnUnfinishedHeadGetsNoAnswer() throws {
        let (service, port) = try start(HTTPService.Limits(
            maxConnections: 2, whenFull: .evictOldest, rules: HTTPRequestRules(maxBytes: 1000), requestTimeout: 30, maxRequestsPerConnection: 1))
        let first = try Client(port: port)
        try first.send("GET /")
        let second = try Client(port: port)
        try second.send("GET /")
        let third = try Client(port: port)
        XCTAssertEqual(try first.readToEnd(), "", "evicted long before its 30 s timeout, unanswered")
        try third.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertTrue(try third.readToEnd().hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertLessThanOrEqual(service.openConnections, 2)
    }
}

/// A blocking loopback client with a receive timeout.
final class Client {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var wait = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        guard fd >= 0, connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Foundation.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EIO) }
    }

    /// What the server sends until it closes; a timeout is an error.
    func readToEnd() throws -> String {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return String(decoding: received, as: UTF8.self) }
            guard count > 0 else { throw POSIXError(.ETIMEDOUT) }
            received += chunk[0..<count]
        }
    }
}
