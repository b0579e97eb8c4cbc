import Foundation

/// A real `consultd` process on a free port, for tests that talk to it over TCP.
public final class Daemon {
    public let pid: pid_t
    public private(set) var port: UInt16 = 0
    /// Everything the daemon wrote to stderr so far.
    public var log: String { output.current.text }

    private struct Output {
        var text = ""
        var ended = false
    }
    private let output = Locked(Output())
    private let readyOrEnded = DispatchSemaphore(value: 0)
    private var exitStatus: Int32?

    /// Starts `consultd --port 0` against `conninfo` and waits until it logs that it is listening.
    public init(conninfo: String, arguments: [String] = []) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestEnvironmentError(description: "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        let path = try TestDatabase.executable("consultd")
        let argv = ([path, "--database", conninfo, "--port", "0"] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, path, &actions, nil, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw TestEnvironmentError(description: "cannot start consultd: \(String(cString: strerror(spawned)))")
        }
        pid = child
        let readEnd = fds[0]
        let output = self.output
        let signal = readyOrEnded
        // Read stderr to its end on a thread of its own, so the daemon never blocks on a full pipe.
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var signalled = false
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                if count <= 0 { break }
                let chunk = String(decoding: buffer[0..<count], as: UTF8.self)
                let ready = output.withLock { state -> Bool in
                    state.text += chunk
                    return state.text.contains("listening=")
                }
                if ready && !signalled {
                    signalled = true
                    signal.signal()
                }
            }
            close(readEnd)
            output.withLock { $0.ended = true }
            if !signalled { signal.signal() }
        }.start()

        guard readyOrEnded.wait(timeout: .now() + 60) == .success, let port = Self.port(in: log) else {
            kill(pid, SIGKILL)
            _ = waitForExit()
            throw TestEnvironmentError(description: "consultd did not start:\n\(log)")
        }
        self.port = port
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
    }

    private static func port(in log: String) -> UInt16? {
        guard let range = log.range(of: "listening=") else { return nil }
        let address = log[range.upperBound...].prefix { $0 != " " && $0 != "\n" }
        return address.split(separator: ":").last.flatMap { UInt16($0) }
    }

    /// Sends `signal` (SIGTERM, SIGKILL, ...).
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to end; returns its exit status (128 + n for a signal).
    @discardableResult
    public func waitForExit() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let result = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = result
        return result
    }
}

/// A blocking line-protocol client over a real TCP socket.
public final class LineClient {
    public let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port` and, unless told not to, reads the greeting.
    public init(port: UInt16, readGreeting: Bool = true, timeout: Double = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw TestEnvironmentError(description: "cannot connect to consultd on port \(port): \(String(cString: strerror(errno)))")
        }
        if readGreeting {
            let greeting = try readLine()
            guard greeting == "OK consultd 1 ready" else {
                throw TestEnvironmentError(description: "unexpected greeting: \(greeting ?? "none")")
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
                throw TestEnvironmentError(description: "send failed: \(String(cString: strerror(errno)))")
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
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return nil }
                throw TestEnvironmentError(description: "no reply in time: \(String(cString: strerror(errno)))")
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
            throw TestEnvironmentError(description: "connection closed instead of answering \(line.prefix(60))")
        }
        return reply
    }
}
