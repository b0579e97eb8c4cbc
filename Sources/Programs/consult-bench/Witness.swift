import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import PostgresClient

extension Bench {
    /// --witness-only: the write path with and without two witnesses alone, written to
    /// `<out>/<date>-witness.txt`.
    func witnessOnlyRun(_ run: BenchRun) throws {
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let tokens = try Self.registerOrganisations(run.store)
        let ratio = try witnessComparison(conninfo: run.conninfo, connection: run.connection, tokens: tokens, report: run.report)
        let table = Self.table(run.figures, ratios: [("with_two_witnesses_over_without_16", ratio)])
        print(table)
        try Self.writeText(
            table, commit: commit, folder: out, name: "witness",
            sizes: "--witness-only --submissions \(submissions) --witness-rounds \(witnessRounds)" + (witnessState.map { " --witness-state \($0)" } ?? ""),
            what: "one consultd at a time (restarted for each round), --checkpoint-interval 1, with and without two witnesses on loopback")
    }

    /// Submissions per second over 16 connections through consultd signing C2SP checkpoints every
    /// second, alone and submitting each to two witnesses (`consultctl witness serve` on loopback,
    /// quorum 2): three rounds of each, alternating (which goes first alternates too), each on a
    /// consultd of its own. Returns with ÷ without.
    func witnessComparison(conninfo: String, connection: Connection, tokens: [String], report: (String, Double, String) -> Void) throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("consult-bench-witness-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let consultctl = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("consultctl").path
        func ctl(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: consultctl)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw ValidationError("consultctl \(arguments.prefix(2).joined(separator: " ")) failed") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let origin = "bench.local/log"
        _ = try ctl(["keys", "generate", "--out", folder, "--origin", origin])
        let ports = try Self.freePorts(2)
        var witnesses: [Process] = []
        defer { for witness in witnesses where witness.isRunning { witness.terminate(); witness.waitUntilExit() } }
        var flags: [String] = []
        var stateFolders: [String] = []
        defer { for folder in stateFolders { try? FileManager.default.removeItem(atPath: folder) } }
        for (index, port) in ports.enumerated() {
            let dir = "\(folder)/w\(index)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let vkey = try ctl(["keys", "generate-witness", "--name", "w\(index).bench.local/witness", "--out", dir])
            let process = Process()
            process.executableURL = URL(fileURLWithPath: consultctl)
            let stateFolder = witnessState.map { "\($0)/consult-bench-w\(index)-\(UUID().uuidString)" } ?? dir
            try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
            if witnessState != nil { stateFolders.append(stateFolder) }
            process.arguments = ["witness", "serve", "--listen", "127.0.0.1:\(port)", "--key", "\(dir)/witness.key", "--log", "\(folder)/consultd-signing.vkey",
                                 "--state", "\(stateFolder)/state.json", "--new-state"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            witnesses.append(process)
            let deadline = Date().addingTimeInterval(15)
            while !DaemonProcess.listeningPorts(of: process.processIdentifier).contains(port) {
                guard Date() < deadline, process.isRunning else { throw ValidationError("a witness did not start listening") }
                Thread.sleep(forTimeInterval: 0.05)  // polling another process
            }
            flags += ["--witness", "\(vkey) http://127.0.0.1:\(port)"]
        }
        let base = ["--signing-key", "\(folder)/consultd-signing.key", "--log-origin", origin, "--checkpoint-interval", "1"]
        var without: [Double] = []
        var with: [Double] = []
        for round in 0..<witnessRounds {
            for witnessed in (round % 2 == 0 ? [false, true] : [true, false]) {
                let daemon = try DaemonProcess(conninfo: conninfo, extra: base + (witnessed ? flags + ["--witness-quorum", "2"] : []))
                let rate = try Self.endToEnd(
                    port: daemon.port, tokens: tokens, connections: 16, submissions: submissions, prefix: "w\(round)-\(witnessed)")
                daemon.stop()
                if witnessed { with.append(rate) } else { without.append(rate) }
            }
        }
        let cosignatures: Int64 = try connection.execute("SELECT count(*) AS n FROM consult.cosignatures").first!.get("n")
        func rounds(_ rates: [Double]) -> String { rates.map { String(Int($0.rounded())) }.joined(separator: ", ") }
        let withoutMean = without.reduce(0, +) / Double(without.count)
        let withMean = with.reduce(0, +) / Double(with.count)
        let where_ = witnessState.map { "witness state in \($0)" } ?? "witness state on PostgreSQL's disk"
        report("consultd_16_no_witness_submissions_per_s", withoutMean, "submissions/s (mean of \(without.count) rounds: \(rounds(without)); alternating)")
        report("consultd_16_two_witnesses_submissions_per_s", withMean, "submissions/s (mean of \(with.count) rounds: \(rounds(with)); alternating; \(where_))")
        report("cosignatures_stored", Double(cosignatures), "cosignatures stored by the end (two witnesses, one checkpoint a second)")
        return withMean / withoutMean
    }
}
