import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import LineClient
import Locking
import PostgresClient

extension Bench {
    /// --tls-only: TLS beside plain TCP alone, written to `<out>/<date>-tls.txt`.
    func tlsOnlyRun(_ run: BenchRun) throws {
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let tokens = try Self.registerOrganisations(run.store)
        let ratio = try tlsComparison(conninfo: run.conninfo, tokens: tokens, report: run.report)
        let table = Self.table(run.figures, ratios: [("tls_over_plain_16", ratio.sixteen), ("tls_over_plain_64", ratio.sixtyFour)])
        print(table)
        try Self.writeText(table, commit: commit, folder: out, name: "tls", sizes: "--submissions \(submissions) --handshakes \(handshakes) --idle-connections \(idleConnections)")
    }

    /// TLS beside plain TCP on one daemon serving both (`--port` and `--tls-port`): the same
    /// pipelined load over each, alternating three times for 16 and for 64 connections; handshakes
    /// per second (connect, TLS 1.3 handshake with certificate check, greeting, close) beside plain
    /// connections per second; and the memory an idle authenticated connection costs either way.
    /// Returns TLS's share of the plain rate at 16 and 64 connections.
    func tlsComparison(conninfo: String, tokens: [String], report: (String, Double, String) -> Void) throws
        -> (sixteen: Double, sixtyFour: Double)
    {
        let (certificate, key) = try Self.selfSignedCertificate()
        let tls = try TLSClientConfiguration(caFile: certificate)
        let ports = try Self.freePorts(2)
        let tlsArguments = ["--tls-cert", certificate, "--tls-key", key, "--tls-port", String(ports[1])]
        let daemon = try DaemonProcess(conninfo: conninfo, extra: tlsArguments, ports: ports)
        var ratios: [Double] = []
        for connections in [16, 64] {
            var plain: [Double] = []
            var overTLS: [Double] = []
            for round in 0..<3 {
                plain.append(try Self.endToEnd(port: ports[0], tokens: tokens, connections: connections, submissions: submissions,
                                               prefix: "p\(connections)-\(round)"))
                overTLS.append(try Self.endToEnd(port: ports[1], tokens: tokens, connections: connections, submissions: submissions,
                                                 prefix: "s\(connections)-\(round)", tls: tls))
            }
            let plainMean = plain.reduce(0, +) / 3
            let tlsMean = overTLS.reduce(0, +) / 3
            func rounds(_ rates: [Double]) -> String { rates.map { String(Int($0.rounded())) }.joined(separator: ", ") }
            report("consultd_\(connections)_plain_submissions_per_s", plainMean,
                   "submissions/s (mean of 3 rounds: \(rounds(plain)); alternating with TLS)")
            report("consultd_\(connections)_tls_submissions_per_s", tlsMean,
                   "submissions/s (mean of 3 rounds: \(rounds(overTLS)); alternating with plain)")
            ratios.append(tlsMean / plainMean)
        }
        report("plain_connections_per_s", try Self.connectionRate(port: ports[0], count: handshakes, tls: nil), "connections/s (8 client threads)")
        report("tls_handshakes_per_s", try Self.connectionRate(port: ports[1], count: handshakes, tls: tls),
               "handshakes/s (TLS 1.3, ECDSA P-256, 8 client threads; the clients' own share of the work runs on the same cores)")
        daemon.stop()

        // Memory per idle authenticated connection, each kind on a daemon of its own (fresh, and
        // settled first: its projector folds the whole log at start, even when the projection tables
        // are current, so the figure would otherwise be partly the log's).
        for (label, portIndex, configuration) in [("plain", 0, nil as TLSClientConfiguration?), ("tls", 1, tls)] {
            let freshPorts = try Self.freePorts(2)
            let fresh = try DaemonProcess(
                conninfo: conninfo, extra: ["--tls-cert", certificate, "--tls-key", key, "--tls-port", String(freshPorts[1])], ports: freshPorts)
            let connection = try Connection(conninfo)
            let head = try EventStore(connection: connection).headPosition()
            try Self.waitForProjection(conninfo, head: head)
            try Self.waitForTree(connection, head: head)
            try fresh.waitUntilMemorySettles()
            // The second half's growth only: one-time costs (OpenSSL loading its algorithms at the
            // first handshake, the first connections' share of the heap) stay out of the figure.
            func open(_ range: Range<Int>) throws -> [LineClient] {
                try range.map { index -> LineClient in
                    let client = try LineClient(port: freshPorts[portIndex], tls: configuration)
                    _ = try client.request("AUTH o\(index % 64 + 1) \(tokens[index % 64])")
                    return client
                }
            }
            let half = idleConnections / 2
            let first = try open(0..<half)
            let before = fresh.memory("VmRSS")
            let second = try open(half..<idleConnections)
            report("consultd_idle_\(label)_connection_kib", (fresh.memory("VmRSS") - before) / Double(idleConnections - half),
                   "KiB per idle authenticated connection (the growth from \(half) to \(idleConnections) open)")
            let idle = first + second
            withExtendedLifetime(idle) {}
            fresh.stop()
        }
        return (ratios[0], ratios[1])
    }

    /// Connections per second: `count` of them, from 8 threads, each opened (with its TLS handshake
    /// and certificate check when `tls` is given), greeted and closed.
    static func connectionRate(port: UInt16, count: Int, tls: TLSClientConfiguration?) throws -> Double {
        let threads = 8
        let failures = Locked(0)
        let started = Date()
        parallel(threads) { _ in
            for _ in 0..<(count / threads) {
                do {
                    let client = try LineClient(port: port, tls: tls)
                    client.finishSending()
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        guard failures.current == 0 else { throw ValidationError("\(failures.current) connections failed") }
        return Double(count / threads * threads) / Date().timeIntervalSince(started)
    }

    /// A throwaway self-signed P-256 certificate for 127.0.0.1 (its own CA for the clients), made
    /// with the `openssl` command; returns the certificate and key paths.
    static func selfSignedCertificate() throws -> (String, String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("consult-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(folder)/key.pem",
            "-out", "\(folder)/cert.pem", "-days", "30", "-subj", "/CN=consult-bench", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw ValidationError("openssl could not make a certificate") }
        return ("\(folder)/cert.pem", "\(folder)/key.pem")
    }
}
