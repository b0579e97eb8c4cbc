import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import Histogram
import LineClient
import Locking

extension Bench {
    /// Latency over 16 connections (many organisations at once, as in a real consultation); a single
    /// connection's requests are parsed on its one serial queue, which makes it the slower path here.
    static let pacedConnections = 16

    /// The offered rates of --latency-rates, as numbers (a word that is not one is skipped).
    var latencyRateValues: [Double] {
        latencyRates.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Ack latency on `daemon` at the highest rate end to end, at half of it, and at each more rate
    /// of --latency-rates.
    func ackLatency(_ run: BenchRun, daemon: DaemonProcess, tokens: [String], best: Double) throws {
        let pacedConnections = Self.pacedConnections
        var extra: [Double] = []
        for rate in latencyRateValues where rate > 0 && !extra.contains(rate) {
            extra.append(rate)
        }
        for (label, rate) in [("highest", best), ("half", best / 2)] + extra.map({ ("at_\(Int($0))", $0) }) {
            // Each run starts once the daemon's projector has caught up with the runs before it.
            try Self.waitForProjection(run.conninfo, head: try run.store.headPosition())
            let latency = try Self.paced(
                port: daemon.port, tokens: tokens, connections: pacedConnections, rate: rate, seconds: latencySeconds, prefix: "l\(label)")
            run.report("ack_latency_\(label)_rate", rate, "submissions/s offered")
            run.report("ack_latency_\(label)_connections", Double(pacedConnections), "connections")
            run.report("ack_latency_\(label)_p50_ms", latency.p50, "ms")
            run.report("ack_latency_\(label)_p99_ms", latency.p99, "ms")
            run.report("ack_latency_\(label)_p999_ms", latency.p999, "ms")
        }
    }

    /// --latency-only: ack latency at each of --latency-rates on a fresh daemon, each right after a
    /// burst of --burst-submissions, printed as it goes (for profiling; writes no results).
    func latencyOnlyRun(_ run: BenchRun) throws {
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let tokens = try Self.registerOrganisations(run.store)
        let daemon = try DaemonProcess(conninfo: run.conninfo, extra: daemonArguments.split(separator: " ").map(String.init))
        FileHandle.standardError.write(Data("bench: consultd pid \(daemon.pid) port \(daemon.port)\n".utf8))
        for (index, rate) in latencyRateValues.enumerated() {
            if burstSubmissions > 0 {
                // Each rate right after a burst (--burst-submissions 0 for a quiet start); the line
                // below tells a profiler watching this output when the paced run begins.
                _ = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: burstSubmissions, prefix: "b\(index)-\(Int(rate))")
                FileHandle.standardError.write(Data("bench: burst sent; paced run at \(Int(rate))/s begins\n".utf8))
            }
            let walBefore = try Self.walCounters(run.connection)
            let latency = try Self.paced(
                port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "q\(index)-\(Int(rate))")
            let wal = try Self.walPerSubmission(run.connection, since: walBefore, submissions: rate * latencySeconds)
            print("at \(Int(rate))/s: p50 \(latency.p50) ms, p99 \(latency.p99) ms, p99.9 \(latency.p999) ms;"
                  + " WAL \(Int(wal.bytes)) bytes per submission, \(wal.checkpoints) checkpoints")
            if resend {
                let again = try Self.paced(
                    port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "q\(index)-\(Int(rate))")
                print("resent at \(Int(rate))/s: p50 \(again.p50) ms, p99 \(again.p99) ms, p99.9 \(again.p999) ms")
            }
        }
        daemon.stop()
    }

    /// Open-loop: `connections` connections send at fixed times adding up to `rate`; latency is measured from the
    /// time each request was due, so a stall counts against every request it delayed.
    static func paced(port: UInt16, tokens: [String], connections: Int, rate: Double, seconds: Double, prefix: String) throws
        -> (p50: Double, p99: Double, p999: Double)
    {
        let perConnection = Int(rate / Double(connections) * seconds)
        let interval = Double(connections) / rate
        let histograms = Locked(Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three))
        let clients = try (0..<connections).map { index -> LineClient in
            let client = try LineClient(port: port)
            _ = try client.request("AUTH o\(index + 1) \(tokens[index])")
            return client
        }
        let start = Date().addingTimeInterval(0.2)
        parallel(connections) { index in
            let client = clients[index]
            // Connections take turns, so that the offered load is evenly spread and not 16 at once.
            let offset = Double(index) / Double(connections)
            Thread {
                for n in 0..<perConnection {
                    let due = start.addingTimeInterval((Double(n) + offset) * interval)
                    let wait = due.timeIntervalSinceNow
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }  // pacing is the method, not a synchronisation
                    try? client.send("SUBMIT c1 \(prefix)-\(index)-\(n) \(body)")
                }
            }.start()
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            for n in 0..<perConnection {
                guard (try? client.readLine()) != nil else { break }
                let due = start.addingTimeInterval((Double(n) + offset) * interval)
                _ = histogram.record(UInt64(max(1, Date().timeIntervalSince(due) * 1_000_000)))
            }
            histograms.withLock { $0.add(histogram) }
        }
        let merged = histograms.current
        return (Double(merged.valueAtPercentile(50)) / 1_000, Double(merged.valueAtPercentile(99)) / 1_000,
                Double(merged.valueAtPercentile(99.9)) / 1_000)
    }
}
