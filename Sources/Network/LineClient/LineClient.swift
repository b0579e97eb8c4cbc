import Foundation
import TLS

/// Why talking to consultd failed.
public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a client speaks TLS to consultd: whom it trusts, what it shows, which name it expects.
public struct TLSClientConfiguration: Sendable {
    public let context: TLSContext
    /// The name the server's certificate must carry (default: the host connected to).
    public var serverName: String?

    /// `caFile`: the CA that signed consultd's certificate (default: the system's trusted CAs).
    /// `certificateFile` and `keyFile`: this organisation's client certificate, where the operator
    /// accepts one in place of the token.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil)
        throws(TLSError)
    {
        context = try TLSContext.client(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)
        self.serverName = serverName
    }
}

/// A blocking line-protocol client over a real TCP socket, in the clear or over TLS.
///
/// `@unchecked Sendable`: one thread may send while another reads (a pipelining client). Sending
/// touches only the descriptor (plain: the kernel serialises it) or the TLS stream (its own lock);
/// the read buffer is touched only by the reading side, which must be one thread at a time.
public final class LineClient: @unchecked Sendable {
    public let fd: Int32
    private let tls: TLSStream?
    private var buffer: [UInt8] = []
    /// Where the unread part of `buffer` starts: lines are taken by moving it, not by shifting the
    /// bytes after them (a 64 KiB read holds thousands of replies).
    private var head = 0
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    /// Connects to `host` (an address or a name) and `port`, completes the TLS handshake when `tls`
    /// is given (verifying the server's certificate), and, unless told not to, reads the greeting.
    public init(host: String = "127.0.0.1", port: UInt16, readGreeting: Bool = true, timeout: Double = 30,
                tls: TLSClientConfiguration? = nil) throws {
        fd = try Self.connect(host: host, port: port)
        // Requests are small and each waits for its reply: send them at once, not after the last ACK.
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let tls {
            do {
                self.tls = try TLSStream(fd: fd, configuration: tls, serverName: tls.serverName ?? host, timeout: timeout)
            } catch {
                close(fd)
                throw ClientError("TLS with consultd at \(host):\(port) failed: \(error)")
            }
        } else {
            self.tls = nil
            var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        if readGreeting {
            let greeting = try readLine()
            guard greeting == "OK consultd 1 ready" else {
                throw ClientError("unexpected greeting: \(greeting ?? "none")")
            }
        }
    }

    deinit { close(fd) }

    /// The certificate the server presented (TLS only).
    public var serverCertificate: CertificateSummary? { tls?.peerCertificate }

    /// The protocol version agreed, e.g. "TLSv1.3" (TLS only).
    public var tlsVersion: String? { tls?.protocolVersion }

    /// Asks the server for new TLS 1.3 traffic keys in both directions (sent with the next request);
    /// false in the clear or when TLS 1.2 was agreed.
    @discardableResult
    public func requestKeyUpdate() -> Bool { tls?.requestKeyUpdate() ?? false }

    /// Sends raw bytes, all of them (blocking).
    public func send(bytes: [UInt8]) throws {
        if let tls { return try tls.send(bytes) }
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
            let count: Int
            if let tls {
                count = try chunk.withUnsafeMutableBytes { try tls.receive(into: $0) }
            } else {
                count = recv(fd, &chunk, chunk.count, 0)
            }
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return nil }
                throw ClientError("no reply in time: \(String(cString: strerror(errno)))")
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    /// Ends our side of the stream (the server then answers what it has and closes). Over TLS,
    /// close_notify first: TLS may go on in the other direction after it.
    public func finishSending() {
        tls?.sendCloseNotify()
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

    /// A connected TCP socket to the first address of `host` that answers.
    private static func connect(host: String, port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, list != nil else {
            throw ClientError("cannot connect to consultd at \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var next = list
        while let address = next {
            next = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                reason = String(cString: strerror(errno))
                continue
            }
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            reason = String(cString: strerror(errno))
            close(fd)
        }
        throw ClientError("cannot connect to consultd at \(host):\(port): \(reason)")
    }
}

/// TLS over the client's socket, made non-blocking so that a sending thread and a reading thread
/// can share one TLS connection: each OpenSSL call is short and made under `lock` (an SSL object
/// is not thread-safe), and waiting for the socket happens outside it, with poll(2).
private final class TLSStream: @unchecked Sendable {
    // `@unchecked Sendable`: `connection` is used only under `lock`; the rest is constant.
    private let fd: Int32
    private let connection: TLSConnection
    private let lock = NSLock()
    private let timeout: Double

    init(fd: Int32, configuration: TLSClientConfiguration, serverName: String, timeout: Double) throws {
        // OpenSSL writes with write(2), which cannot pass MSG_NOSIGNAL: a server that closed first
        // would otherwise kill this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        self.fd = fd
        self.timeout = timeout
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        connection = try TLSConnection(context: configuration.context, socket: fd, role: .client(serverName: serverName))
        var deadline = Date().addingTimeInterval(timeout)
        while true {
            switch locked({ connection.handshake() }) {
            case .done:
                return
            case .wantRead:
                try wait(for: Int16(POLLIN), until: &deadline, what: "the TLS handshake")
            case .wantWrite:
                try wait(for: Int16(POLLOUT), until: &deadline, what: "the TLS handshake")
            case .closed:
                throw ClientError("the server closed the connection during the TLS handshake")
            case .failed(let reason):
                throw ClientError(reason)
            }
        }
    }

    var peerCertificate: CertificateSummary? { locked { connection.peerCertificate } }
    var protocolVersion: String { locked { connection.protocolVersion } }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        var deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count {
            let outcome = bytes.withUnsafeBytes { raw in locked { connection.write(UnsafeRawBufferPointer(rebasing: raw[offset...])) } }
            switch outcome {
            case .done(let count):
                offset += count
                deadline = Date().addingTimeInterval(timeout)
            case .wantRead:
                try wait(for: Int16(POLLIN), until: &deadline, what: "sending")
            case .wantWrite:
                try wait(for: Int16(POLLOUT), until: &deadline, what: "sending")
            case .closed:
                throw ClientError("send failed: the server closed the connection")
            case .failed(let reason):
                throw ClientError("send failed: \(reason)")
            }
        }
    }

    /// Reads what is there (waiting up to the timeout for something); 0 when the server closed.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var deadline = Date().addingTimeInterval(timeout)
        while true {
            switch locked({ connection.read(into: buffer) }) {
            case .done(let count):
                return count
            case .closed:
                return 0
            case .wantRead:
                try wait(for: Int16(POLLIN), until: &deadline, what: "a reply")
            case .wantWrite:
                try wait(for: Int16(POLLOUT), until: &deadline, what: "a reply")
            case .failed(let reason):
                throw ClientError("receive failed: \(reason)")
            }
        }
    }

    func sendCloseNotify() { locked { connection.shutdown() } }

    func requestKeyUpdate() -> Bool { locked { connection.requestKeyUpdate() } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Waits for the socket, in short slices: the other thread may meanwhile have taken the bytes
    /// this one waits for into OpenSSL (checked between slices), which no poll would report.
    private func wait(for events: Int16, until deadline: inout Date, what: String) throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw ClientError("no progress with \(what) in \(Int(timeout)) s") }
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining, 0.05) * 1000) + 1)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw ClientError("poll failed: \(String(cString: strerror(errno)))") }
            if events == Int16(POLLIN) && locked({ connection.hasBufferedInput }) { return }
        }
    }
}
