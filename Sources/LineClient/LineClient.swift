import Foundation

/// Why talking to consultd failed.
public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking line-protocol client over a real TCP socket.
///
/// `@unchecked Sendable`: one thread may send while another reads (a pipelining client). Sending
/// touches only the descriptor, which the kernel serialises; the read buffer is touched only by
/// the reading side, which must be one thread at a time.
public final class LineClient: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []
    /// Where the unread part of `buffer` starts: lines are taken by moving it, not by shifting the
    /// bytes after them (a 64 KiB read holds thousands of replies).
    private var head = 0
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    /// Connects to `host` (an IPv4 address) and `port` and, unless told not to, reads the greeting.
    public init(host: String = "127.0.0.1", port: UInt16, readGreeting: Bool = true, timeout: Double = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw ClientError("cannot connect to consultd at \(host):\(port): \(String(cString: strerror(errno)))")
        }
        // Requests are small and each waits for its reply: send them at once, not after the last ACK.
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if readGreeting {
            let greeting = try readLine()
            guard greeting == "OK consultd 1 ready" else {
                throw ClientError("unexpected greeting: \(greeting ?? "none")")
            }
        }
    }

    deinit { close(fd) }

    /// Sends raw bytes, all of them (blocking).
    public func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else {
                throw ClientError("send failed: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    public func send(_ line: String) throws {
        try send(bytes: Array((line + "\n").utf8))
    }

    /// The next reply line without its newline; nil when the server closed the connection.
    public func readLine() throws -> String? {
        while true {
            if let newline = buffer[head...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[head..<newline], as: UTF8.self)
                head = newline + 1
                if head == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    head = 0
                }
                return line
            }
            if head > 0 {
                buffer.removeFirst(head)
                head = 0
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return nil }
                throw ClientError("no reply in time: \(String(cString: strerror(errno)))")
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Ends our side of the stream (the server then answers what it has and closes).
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Every reply line until the server closes the connection.
    public func readAll() throws -> [String] {
        var lines: [String] = []
        while let line = try readLine() { lines.append(line) }
        return lines
    }

    /// Sends one request and returns its reply.
    public func request(_ line: String) throws -> String {
        try send(line)
        guard let reply = try readLine() else {
            throw ClientError("connection closed instead of answering \(line.prefix(60))")
        }
        return reply
    }
}
