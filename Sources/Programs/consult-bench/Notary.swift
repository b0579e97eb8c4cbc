import Foundation

extension Bench {
    /// The tree's cost on ingest: the same 16-connection load on a daemon with its notary and on
    /// one without, alternating three times (the machine's noise is large); each notary run starts
    /// once the tree has caught up with the log, so it pays only for its own submissions.
    func notaryComparison(_ run: BenchRun, tokens: [String]) throws {
        var withNotary: [Double] = []
        var withoutNotary: [Double] = []
        for round in 0..<3 {
            for notary in [true, false] {
                let daemon = try DaemonProcess(conninfo: run.conninfo, extra: notary ? [] : ["--no-notary"])
                if notary { try Self.waitForTree(run.connection, head: try run.store.headPosition()) }
                let rate = try Self.endToEnd(
                    port: daemon.port, tokens: tokens, connections: 16, submissions: submissions, prefix: "t\(round)\(notary)")
                if notary { withNotary.append(rate) } else { withoutNotary.append(rate) }
                daemon.stop()
            }
        }
        run.report("consultd_16_notary_submissions_per_s", withNotary.reduce(0, +) / 3, "submissions/s (mean of 3)")
        run.report("consultd_16_no_notary_submissions_per_s", withoutNotary.reduce(0, +) / 3, "submissions/s (mean of 3)")
    }
}
