import Dispatch
import Foundation
import TLS

#if canImport(Glibc)
import Glibc
#endif

/// One client connection, served on its own thread: read a request, answer, and again while the
/// client keeps the connection and the bound allows; then close.
///
/// `@unchecked Sendable`: everything but `closed` belongs to the serving thread; `closed` and the
/// descriptor's end are under `lock`, so that `cutShort` from another thread never touches a
/// descriptor number already closed (and maybe reused).
final class HTTPConnection: @unchecked Sendable {
    private let fd: Int32
    private let tlsContext: TLSContext?
    private var tls: TLSConnection?
    private let limits: HTTPService.Limits
    private let handler: HTTPService.Handler
    private let log: @Sendable (String) -> Void
    private var reader: HTTPRequestReader
    /// What each read fills, allocated once per connection.
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    private var deadline = DispatchTime.now()
    private let lock = NSLock()
    private var closed = false

    init(fd: Int32, tls: TLSContext?, limits: HTTPService.Limits, handler: @escaping HTTPService.Handler,
         log: @escaping @Sendable (String) -> Void) {
        self.fd = fd
        self.tlsContext = tls
        self.limits = limits
        self.handler = handler
        self.log = log
        reader = HTTPRequestReader(rules: limits.rules)
    }

    /// Ends the connection from outside (an eviction, the server stopping): the serving thread's
    /// next wait or read sees the end of the stream.
    func cutShort() {
        lock.withLock {
            if !closed { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    func serve() {
        defer {
            if let tls {
                tls.shutdown()
            } else {
                lingeringClose()
            }
            tls = nil
            lock.withLock {
                closed = true
                _ = Glibc.close(fd)
            }
        }
        deadline = .now() + limits.requestTimeout
        if let tlsContext {
            guard let connection = try? TLSConnection(context: tlsContext, socket: fd, role: .server) else { return }
            tls = connection
            handshake: while true {
                switch connection.handshake() {
                case .done: break handshake
                case .wantRead: guard wait(for: Int16(POLLIN)) else { return }
                case .wantWrite: guard wait(for: Int16(POLLOUT)) else { return }
                case .closed, .failed: return
                }
            }
        }
        for served in 0..<limits.maxRequestsPerConnection {
            if served > 0 { deadline = .now() + limits.requestTimeout }
            guard let request = readRequest() else { return }
            let response = handler(request)
            let keepAlive = request.keepAlive && served + 1 < limits.maxRequestsPerConnection
            guard write(response.serialized(keepAlive: keepAlive, includeBody: request.method != "HEAD")), keepAlive else { return }
        }
    }

    /// Reads one request; nil when the connection ended, timed out or failed before one was
    /// complete, or the request was refused (and answered so).
    private func readRequest() -> HTTPRequest? {
        while true {
            switch reader.next() {
            case .request(let request):
                return request
            case .refused(let status, let reason):
                log("request refused status=\(status) \(reason)")
                _ = write(HTTPResponse(status: status, text: reason + "\n").serialized(keepAlive: false))
                return nil
            case .sendContinue:
                guard write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
            case .needMore:
                let count = scratch.withUnsafeMutableBytes { read(into: $0) }
                guard let count, count > 0 else { return nil }
                reader.append(scratch[0..<count])
            }
        }
    }

    /// Closing a socket with unread input makes the kernel send a reset, which can destroy an
    /// answer the client has not read yet (a 413 sent before the body arrived). So: end our side,
    /// and read and discard what the client still sends, for at most a second and 256 KiB, or
    /// until the request's deadline if that is sooner.
    private func lingeringClose() {
        shutdown(fd, Int32(SHUT_WR))
        deadline = min(deadline, .now() + 1)
        var discarded = 0
        while discarded < 256 * 1024 {
            let count = scratch.withUnsafeMutableBytes { read(into: $0) }
            guard let count, count > 0 else { return }
            discarded += count
        }
    }

    /// Waits until the socket is ready for `events` or the deadline passes.
    private func wait(for events: Int16) -> Bool {
        while true {
            let now = DispatchTime.now()
            guard now < deadline else { return false }
            let milliseconds = Int32(min(Double(deadline.uptimeNanoseconds - now.uptimeNanoseconds) / 1e6 + 1, 60_000))
            var poller = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&poller, 1, milliseconds)
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return false }
        }
    }

    /// Bytes read (0 at the end of the stream), or nil on error or timeout.
    private func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while true {
            if let tls {
                switch tls.read(into: buffer) {
                case .done(let count): return count
                case .closed: return 0
                case .wantRead: guard wait(for: Int16(POLLIN)) else { return nil }
                case .wantWrite: guard wait(for: Int16(POLLOUT)) else { return nil }
                case .failed: return nil
                }
            } else {
                let count = recv(fd, buffer.baseAddress, buffer.count, 0)
                if count >= 0 { return count }
                if errno == EINTR { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK, wait(for: Int16(POLLIN)) else { return nil }
            }
        }
    }

    /// Writes all of `bytes` before the deadline.
    private func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let result: Int? = bytes[sent...].withUnsafeBytes { raw in
                if let tls {
                    switch tls.write(raw) {
                    case .done(let count): return count
                    case .wantRead: return wait(for: Int16(POLLIN)) ? 0 : nil
                    case .wantWrite: return wait(for: Int16(POLLOUT)) ? 0 : nil
                    case .closed, .failed: return nil
                    }
                }
                let count = Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
                if count >= 0 { return count }
                if errno == EINTR { return 0 }
                if errno == EAGAIN || errno == EWOULDBLOCK { return wait(for: Int16(POLLOUT)) ? 0 : nil }
                return nil
            }
            guard let result else { return false }
            sent += result
        }
        return true
    }
}
