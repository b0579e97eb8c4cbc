import Foundation
@_exported import LineClient
@_exported import class Locking.Locked

/// A real `consultd` process on a free port, for tests that talk to it over TCP.
///
/// `@unchecked Sendable`: the output it collects is behind `PipeReader`'s lock; `send` reads only the
/// pid (a constant); `waitForExit`, the one mutating method, is called by the test's own thread.
public final class Daemon: @unchecked Sendable {
    public let pid: pid_t
    public private(set) var port: UInt16 = 0
    /// The separate TLS port (`--tls-port`), when there is one.
    public private(set) var tlsPort: UInt16?
    /// The operator's HTTP port (`--http-port`), when there is one.
    public private(set) var httpPort: UInt16?
    /// Everything the daemon wrote to stderr so far.
    public var log: String { output.text }

    private let output: PipeReader
    private var exitStatus: Int32?

    /// Starts `consultd --port 0` against `conninfo` and waits until it logs that it is listening;
    /// `environment` is added to the test's own.
    public init(conninfo: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        let key = arguments.contains("--master-key-file") ? [] : ["--master-key-file", TestDatabase.masterKeyFile]
        let (child, pipe) = try PipedChild.spawn(
            try TestDatabase.executable("consultd"), ["--database", conninfo, "--port", "0"] + key + arguments, outputs: .standardError,
            environment: environment)
        pid = child
        output = PipeReader(fd: pipe) { $0.contains("listening=") || $0.contains(#""listening":""#) }

        guard output.waitUntilReadyOrEnded(timeout: 60), let port = Self.port(in: log) else {
            kill(pid, SIGKILL)
            _ = waitForExit()
            throw TestEnvironmentError(description: "consultd did not start:\n\(log)")
        }
        self.port = port
        tlsPort = Self.port(in: log, key: "listening_tls")
        httpPort = Self.port(in: log, key: "http")
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
    }

    private static func port(in log: String, key: String = "listening") -> UInt16? {
        // Text logs say listening=host:port, JSON logs "listening":"host:port".
        guard let range = log.range(of: "\(key)=") ?? log.range(of: #""\#(key)":""#) else { return nil }
        let address = log[range.upperBound...].prefix { $0 != " " && $0 != "\n" && $0 != "\"" }
        return address.split(separator: ":").last.flatMap { UInt16($0) }
    }

    /// Waits until the daemon has logged `text` (woken by each chunk it writes); false on timeout.
    public func waitForLog(_ text: String, timeout: Double = 30) -> Bool { output.waitFor(text, timeout: timeout) }

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

