import Foundation
import Merkle
import TestSupport
import Transparency
import Witness
import XCTest

/// A test log: its own Ed25519 key and origin, and a Merkle tree built with the Merkle module.
struct TestLog {
    let key: SignerKey
    private(set) var leaves: [Hash] = []
    private(set) var nodes: [NodeID: Hash] = [:]
    private(set) var frontier = MerkleFrontier()
    /// Distinguishes the entries of two logs (a fork) that share a key.
    let salt: String

    init(origin: String, salt: String = "", key: SignerKey? = nil) throws {
        self.key = try key ?? SignerKey.generate(name: origin)
        self.salt = salt
    }

    var size: Int64 { frontier.size }
    var vkey: String { key.verifierKey.text }

    mutating func grow(to size: Int64) {
        while frontier.size < size {
            let leaf = MerkleHash.leaf(Array("\(salt)entry \(leaves.count)".utf8))
            leaves.append(leaf)
            for (id, hash) in frontier.append(leaf) { nodes[id] = hash }
        }
    }

    func checkpoint(size: Int64? = nil) -> Checkpoint {
        let size = size ?? frontier.size
        return Checkpoint(origin: key.name, size: size, root: MerkleProofs.root(size: size) { nodes[$0]! })
    }

    func signedNote(size: Int64? = nil) throws -> SignedNote { try key.sign(SignedNote(text: checkpoint(size: size).text)) }

    func proof(from old: Int64, to new: Int64? = nil) -> [Hash] {
        MerkleProofs.consistencyProof(from: old, to: new ?? frontier.size) { nodes[$0]! }
    }

    /// An add-checkpoint body from `old` to the log's size now (or `size`).
    func body(old: Int64, size: Int64? = nil) throws -> [UInt8] {
        let new = size ?? frontier.size
        return AddCheckpointRequest.body(oldSize: old, proof: old == 0 || old > new ? [] : proof(from: old, to: new), note: try signedNote(size: new))
    }
}

/// A blocking HTTP/1.1 exchange over LineClient (plain or TLS), one request per connection.
struct HTTPAnswer {
    let status: Int
    let headers: [String: String]
    let body: String
}

enum HTTP {
    static func request(port: UInt16, method: String = "POST", path: String, body: [UInt8] = [], tls: TLSClientConfiguration? = nil,
                        extraHeaders: String = "") throws -> HTTPAnswer {
        let client = try LineClient(port: port, readGreeting: false, timeout: 20, tls: tls)
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\(extraHeaders)\r\n"
        try client.send(bytes: Array(head.utf8) + body)
        return try parse(client.readAll())
    }

    static func parse(_ raw: [String]) throws -> HTTPAnswer {
        let lines = raw.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "), let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw TestEnvironmentError(description: "not an HTTP answer: \(lines.prefix(3))")
        }
        var headers: [String: String] = [:]
        var index = 1
        while index < lines.count, !lines[index].isEmpty {
            let parts = lines[index].split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            index += 1
        }
        let bodyLines = lines.dropFirst(index + 1)
        return HTTPAnswer(status: status, headers: headers, body: bodyLines.isEmpty ? "" : bodyLines.joined(separator: "\n") + "\n")
    }
}

/// A `consultctl witness serve` process on a free loopback port; ready once it logs `listening=`.
final class WitnessProcess: @unchecked Sendable {
    let pid: pid_t
    let port: UInt16
    private let output: PipeReader
    private var exited = false
    var log: String { output.text }

    init(arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestEnvironmentError(description: "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        let path = try TestDatabase.executable("consultctl")
        let argv = ([path, "witness", "serve", "--listen", "127.0.0.1:0"] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, path, &actions, nil, argv, envp)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw TestEnvironmentError(description: "cannot start consultctl: \(String(cString: strerror(spawned)))")
        }
        pid = child
        output = PipeReader(fd: fds[0]) { $0.contains("listening=") }
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
    func waitForLog(_ text: String) -> Bool { output.waitFor(text, timeout: 20) }

    /// Kills it (SIGKILL: no chance to tidy up) and reaps it.
    func kill9() {
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
struct WitnessDidNotStart: Error, CustomStringConvertible {
    let exitStatus: Int32?
    let output: String
    var description: String { "the witness did not start (exit status \(exitStatus.map(String.init) ?? "-")):\n\(output)" }
}

/// Runs `consultctl` to its end; its exit status and what it printed.
func runConsultctl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try TestDatabase.executable("consultctl"))
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

extension XCTestCase {
    /// A fresh folder under the temporary directory, removed when the test ends.
    func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("witness-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
