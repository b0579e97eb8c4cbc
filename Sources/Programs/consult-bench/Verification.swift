import Foundation
import Trust

extension Bench {
    /// 6. Verification over the whole log of `head` events: the tree alone (every leaf recomputed
    /// from the events, the roots, the stored tree), then all of `consultctl verify` (also decoding
    /// every event and the SQL checks of order, stream versions, triggers and privileges), as a process.
    func verification(_ run: BenchRun, head: Int64) throws {
        var started = Date()
        let findings = try LogVerifier(connection: run.connection, conninfo: run.conninfo).verify(key: nil)
        run.report("verify_tree_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")
        precondition(findings.first?.passed == true, "the benchmark's log verifies")
        let consultctl = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("consultctl").path
        started = Date()
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: consultctl)
        verify.arguments = ["verify", "--database", run.conninfo]
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        verify.waitUntilExit()
        run.report("verify_command_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")
        precondition(verify.terminationStatus == 0, "consultctl verify passes on the benchmark's log")
    }
}
