import ArgumentParser
import Foundation
import LineClient
import Locking

extension Bench {
    /// 3. consultd end to end: --submissions pipelined over 1, 16 and 64 connections, on `daemon`.
    /// Returns the best of the three rates.
    func endToEnd(_ run: BenchRun, daemon: DaemonProcess, tokens: [String]) throws -> Double {
        var best = 0.0
        for connections in [1, 16, 64] {
            let rate = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: connections,
                                         submissions: submissions, prefix: "e\(connections)")
            run.report("consultd_\(connections)_submissions_per_s", rate, "submissions/s")
            best = max(best, rate)
        }
        return best
    }

    /// Each connection pipelines its share of SUBMITs; counted when its OK arrives.
    static func endToEnd(port: UInt16, tokens: [String], connections: Int, submissions: Int, prefix: String,
                         tls: TLSClientConfiguration? = nil) throws -> Double {
        let clients = try (0..<connections).map { index -> LineClient in
            let client = try LineClient(port: port, tls: tls)
            _ = try client.request("AUTH o\(index + 1) \(tokens[index])")
            return client
        }
        let perConnection = submissions / connections
        let failures = Locked(0)
        let started = Date()
        parallel(connections) { index in
            let client = clients[index]
            let request = (0..<perConnection).map { "SUBMIT c1 \(prefix)-\($0) \(body)\n" }.joined()
            Thread { try? client.send(bytes: Array(request.utf8)) }.start()
            for _ in 0..<perConnection {
                guard let reply = try? client.readLine(), reply.hasPrefix("OK SUBMIT") else {
                    failures.withLock { $0 += 1 }
                    return
                }
            }
        }
        guard failures.current == 0 else { throw ValidationError("\(failures.current) connections saw a failed SUBMIT") }
        return Double(perConnection * connections) / Date().timeIntervalSince(started)
    }
}
