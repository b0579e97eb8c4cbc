import Foundation
import Trust

extension Bench {
    /// Ack latency right after a burst: the paced submissions arrive while the projector is still
    /// folding and writing the end of the burst, so they compete with its catching up (how far
    /// behind it was is reported beside them). The burst starts once the projection has caught up
    /// with the runs before it; the paced run starts at once after the burst's last OK.
    func ackLatencyAfterBurst(_ run: BenchRun, daemon: DaemonProcess, tokens: [String]) throws {
        guard burstSubmissions > 0 else {
            run.note("ack latency after a burst: skipped (--burst-submissions 0)")
            return
        }
        let pacedConnections = Self.pacedConnections
        try Self.waitForProjection(run.conninfo, head: try run.store.headPosition())
        let burst = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: burstSubmissions, prefix: "burst")
        let lag = try Self.projectionLag(run.connection)
        let treeLag = try run.store.headPosition() - TreeStore(connection: run.connection).size()
        let walBefore = try Self.walCounters(run.connection)
        let latency = try Self.paced(
            port: daemon.port, tokens: tokens, connections: pacedConnections, rate: 1000, seconds: latencySeconds, prefix: "lburst")
        let wal = try Self.walPerSubmission(run.connection, since: walBefore, submissions: 1000 * latencySeconds)
        run.report("burst_16_submissions_per_s", burst, "submissions/s (\(burstSubmissions / 16 * 16) submissions, just before the run below)")
        run.report("ack_latency_after_burst_projection_lag_events", Double(lag), "events not yet projected when the paced run started")
        run.report("ack_latency_after_burst_tree_lag_events", Double(treeLag), "events not yet in the Merkle tree when the paced run started")
        run.report("ack_latency_after_burst_wal_bytes_per_submission", wal.bytes,
                   "bytes of WAL (everything the cluster wrote) per paced submission, \(wal.checkpoints) checkpoints meanwhile")
        run.report("ack_latency_after_burst_1000_p50_ms", latency.p50, "ms (1,000/s over \(pacedConnections) connections, right after the burst)")
        run.report("ack_latency_after_burst_1000_p99_ms", latency.p99, "ms")
        run.report("ack_latency_after_burst_1000_p999_ms", latency.p999, "ms")
    }
}
