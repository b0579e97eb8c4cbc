import Domain
import EventLog
import EventRecords
import Foundation
import PostgresClient

extension Bench {
    /// --ack-only LABEL: end-to-end throughput (16 connections, --submissions) and ack latency at
    /// each of --latency-rates on a fresh daemon, as one line labelled LABEL, with the cluster's
    /// synchronous standby (if any) said first (scripts/bench --synchronous-standby runs it on a
    /// single primary, then with a synchronous standby).
    func ackOnlyRun(_ run: BenchRun, label: String) throws {
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let tokens = try Self.registerOrganisations(run.store)
        let daemon = try DaemonProcess(conninfo: run.conninfo, extra: daemonArguments.split(separator: " ").map(String.init))
        let standby = try run.connection.execute(
            "SELECT current_setting('synchronous_standby_names') AS n, (SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync') AS s"
        ).first!
        let names: String = try standby.get("n")
        let streaming: Int64 = try standby.get("s")
        FileHandle.standardError.write(Data("bench: \(label): synchronous_standby_names '\(names)', \(streaming) sync standby\n".utf8))
        let throughput = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: submissions, prefix: "t")
        var line = "\(label): \(Int(throughput.rounded())) submissions/s (16 connections, \(submissions) submissions)"
        for (index, rate) in latencyRateValues.enumerated() {
            let latency = try Self.paced(
                port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "a\(index)-\(Int(rate))")
            line += String(format: "; ack at %d/s: p50 %.2f ms, p99 %.2f ms", Int(rate), latency.p50, latency.p99)
        }
        print(line)
        daemon.stop()
    }
}
