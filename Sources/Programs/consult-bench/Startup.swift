import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import LineClient

extension Bench {
    /// 7. Start-up on a large log: the same kind of events loaded up to --startup-events, then a
    /// daemon started on it twice. The first folds the whole log; the second may start from what
    /// the first left (the fold's snapshot, once there is one), else folds it all again.
    func startup(_ run: BenchRun, tokens: [String]) throws {
        guard startupEvents > 0 else {
            run.note("start-up on a large log: skipped (--startup-events 0)")
            return
        }
        let body = Self.body
        try Self.loadStartupLog(run.connection, total: startupEvents)
        // The notary would also catch its Merkle tree up over the loaded events, on the same two
        // cores, and so slow the projector's start: these daemons run without it (--no-notary),
        // so that the figures are the projection's start alone.
        for label in ["first", "again"] {
            // One event more than the projection holds (the checkpoint may already be at the head):
            // the daemon has caught up when its checkpoint reaches it, which it writes only after
            // folding everything before it.
            try run.store.append(NewEvent(
                Commands.received(SubmissionKey(organisation: "o1", consultation: "c-big", key: "startup-\(label)"),
                                  body: try JSONParser().parse(body)),
                metadata: .object([])))
            let head = try run.store.headPosition()
            if label == "first" { run.report("startup_log_events", Double(head), "events") }
            let daemon = try DaemonProcess(conninfo: run.conninfo, extra: ["--no-notary"], timeout: 600, poll: 0.01)
            run.report("startup_\(label)_accept_s", daemon.listening.timeIntervalSince(daemon.spawned), "s (spawn to listening, --no-notary)")
            // Listening is not yet accepting: a submission needs the registry loaded (its
            // organisations, credentials and consultations). Measured from spawn to the first OK.
            let client = try LineClient(port: daemon.port)
            let auth = try client.request("AUTH o1 \(tokens[0])")
            let submitted = try client.request("SUBMIT c-big startup-ack-\(label) \(body)")
            guard auth.hasPrefix("OK AUTH"), submitted.hasPrefix("OK SUBMIT") else {
                throw ValidationError("the daemon started on the large log did not accept a submission: \(auth) / \(submitted)")
            }
            run.report("startup_\(label)_first_ack_s", Date().timeIntervalSince(daemon.spawned), "s (spawn to the first SUBMIT acknowledged)")
            try Self.waitForProjection(run.conninfo, head: head, timeout: 3_600)
            let projected = Date()
            run.report("startup_\(label)_projected_s", projected.timeIntervalSince(daemon.spawned), "s (spawn to the projection at the log's head)")
            run.report("startup_\(label)_peak_rss_mib", daemon.memory("VmHWM") / 1024, "MiB (VmHWM once projected)")
            run.report("startup_\(label)_rss_mib", daemon.memory("VmRSS") / 1024, "MiB (VmRSS once projected)")
            daemon.stop()
        }
    }
}
