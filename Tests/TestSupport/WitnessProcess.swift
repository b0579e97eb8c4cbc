import Foundation

/// A `consultctl witness serve` process on a free loopback port; ready once it logs `listening=`.
public final class WitnessProcess: @unchecked Sendable {
    public let pid: pid_t
    public let port: UInt16
    private let output: PipeReader
    private var exited = false
    public var log: String { output.text }

    public init(arguments: [String]) throws {
        let (child, pipe) = try PipedChild.spawn(try TestDatabase.executable("consultctl"), ["witness", "serve", "--listen", "127.0.0.1:0"] + arguments)
        pid = child
        output = PipeReader(fd: pipe) { $0.contains("listening=") }
        guard output.waitUntilReadyOrEnded(timeout: 60), let range = output.text.range(of: "listening=") else {
            kill(child, SIGKILL)
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            exited = true
            port = 0
            // Everything it wrote: it ended (or was just killed), so the pipe is at its end.
            _ = output.waitFor("\u{0}never\u{0}", timeout: 20)
            throw WitnessDidNotStart(exitStatus: status & 0x7f == 0 ? (status >> 8) & 0xff : nil, output: output.text)
        }
        let address = output.text[range.upperBound...].prefix { $0 != " " && $0 != "\n" }
        guard let port = address.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            throw TestEnvironmentError(description: "no port in: \(address)")
        }
        self.port = port
    }

    /// Waits until the process has logged `text`.
    public func waitForLog(_ text: String, timeout: Double = 20) -> Bool { output.waitFor(text, timeout: timeout) }

    /// Kills it (SIGKILL: no chance to tidy up) and reaps it.
    public func kill9() {
        guard !exited else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exited = true
    }

    deinit { kill9() }
}

/// A `witness serve` that ended (or was killed) before it listened: its exit status (nil when a
/// signal ended it) and everything it wrote.
public struct WitnessDidNotStart: Error, CustomStringConvertible {
    public let exitStatus: Int32?
    public let output: String
    public var description: String { "the witness did not start (exit status \(exitStatus.map(String.init) ?? "-")):\n\(output)" }
}
