import Foundation
import LineClient

extension Bench {
    /// Idle connections on a fresh daemon, so the figure is theirs and not the load's high-water mark.
    func idleConnectionsMemory(_ run: BenchRun, tokens: [String]) throws {
        let fresh = try DaemonProcess(conninfo: run.conninfo)
        // Its projector first folds the whole log (memory that grows with the log, not with connections).
        try Self.waitForProjection(run.conninfo, head: try run.store.headPosition())
        run.report("consultd_rss_fresh_mib", fresh.memory("VmRSS") / 1024, "MiB")
        let idle = try (0..<idleConnections).map { index -> LineClient in
            let client = try LineClient(port: fresh.port)
            _ = try client.request("AUTH o\(index % 64 + 1) \(tokens[index % 64])")
            return client
        }
        run.report("consultd_rss_idle_connections_mib", fresh.memory("VmRSS") / 1024, "MiB")
        withExtendedLifetime(idle) {}
        fresh.stop()
    }
}
