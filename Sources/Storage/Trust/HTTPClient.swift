import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client over a POSIX socket, for submitting checkpoints to witnesses
/// (and for tests fetching tiles). One request per connection (`Connection: close`), `http://` only,
/// and everything bounded: connecting, sending and receiving share one deadline of `timeout`
/// seconds, and at most `maxBytes` of answer are read. Chosen over URLSession, which on Linux needs
/// FoundationNetworking and libcurl and whose timeouts are per-read rather than per-request.
public enum HTTPClient {
    public struct Answer: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: [UInt8]
    }

    /// `http://host[:port][/path]` split; nil for anything else.
    public static func parse(url: String) -> (host: String, port: UInt16, path: String)? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(authority.count))
        guard !authority.isEmpty else { return nil }
        var host = String(authority)
        var port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { guard let p = UInt16(after.dropFirst()) else { return nil }; port = p } else if !after.isEmpty { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = UInt16(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        return (host, port, path)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Sends one request and reads the answer, all within `timeout` seconds.
    public static func request(
        _ url: String, method: String = "GET", body: [UInt8] = [], contentType: String = "text/plain; charset=utf-8",
        timeout: Double = 5, maxBytes: Int = 1 << 20
    ) throws -> Answer {
        guard let (host, port, rawPath) = parse(url: url) else { throw Failure("not an http:// URL: \(url)") }
        let path = rawPath.isEmpty ? "/" : rawPath
        let deadline = Date().addingTimeInterval(timeout)
        let fd = try connect(host: host, port: port, deadline: deadline)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: consultd\r\nConnection: close\r\n"
        if method != "GET" || !body.isEmpty { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        let out = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < out.count {
            try wait(fd, for: Int16(POLLOUT), deadline: deadline)
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Failure("sending to \(host):\(port): \(String(cString: strerror(errno)))")
            }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            if let answer = try complete(received) { return answer }
            try wait(fd, for: Int16(POLLIN), deadline: deadline)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Failure("reading from \(host):\(port): \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                if let answer = try complete(received, closed: true) { return answer }
                throw Failure("\(host):\(port) closed the connection before a whole answer")
            }
            received += buffer[0..<n]
            if received.count > maxBytes { throw Failure("the answer from \(host):\(port) is larger than \(maxBytes) bytes") }
        }
    }

    /// The answer once `bytes` hold all of it (by Content-Length, or up to the close).
    private static func complete(_ bytes: [UInt8], closed: Bool = false) throws -> Answer? {
        guard let end = headEnd(bytes) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n").map(String.init)
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."), statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw Failure("not an HTTP answer")
        }
        if status == 100 {  // an interim answer: drop it and go on
            return try complete(Array(bytes[end...]), closed: closed)
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Array(bytes[end...])
        if let length = headers["content-length"].flatMap(Int.init) {
            guard body.count >= length else { return nil }
            return Answer(status: status, headers: headers, body: Array(body.prefix(length)))
        }
        return closed ? Answer(status: status, headers: headers, body: body) : nil
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private static func wait(_ fd: Int32, for events: Int16, deadline: Date) throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw Failure("timed out") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw Failure("poll: \(String(cString: strerror(errno)))") }
        }
    }

    private static func connect(host: String, port: UInt16, deadline: Date) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else { throw Failure("cannot resolve \(host): \(String(cString: gai_strerror(status)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else { lastError = String(cString: strerror(errno)); close(fd); continue }
            do {
                try wait(fd, for: Int16(POLLOUT), deadline: deadline)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { return fd }
                lastError = String(cString: strerror(error))
            } catch {
                lastError = "\(error)"
            }
            close(fd)
        }
        throw Failure("cannot connect to \(host):\(port): \(lastError)")
    }
}
