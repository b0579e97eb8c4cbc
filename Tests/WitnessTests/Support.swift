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
