import ArgumentParser
import EventLog
import Foundation
import Migrations
import PostgresClient

/// `consult-bench`: ingest and projection speed beside PostgreSQL's own limits, in one run.
/// Run it through `scripts/bench`, which builds in release mode and starts a throwaway PostgreSQL
/// (fsync and synchronous_commit on). Every figure comes from this one run on this one machine.
/// Each scenario is in a file of its own; this one holds the options and runs them in order.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consult-bench", abstract: "Measure COPY, naive INSERTs, consultd end to end, rebuild and queries.")

    @Option(help: "Events for the COPY bound.") var copyEvents = 200_000
    @Option(help: "Events for the naive one-INSERT-per-commit runs (each of 1 and 16 connections).") var naiveEvents = 3_000
    @Option(help: "Submissions through consultd for each of 1, 16 and 64 connections.") var submissions = 20_000
    @Option(help: "Seconds of paced load for each latency run.") var latencySeconds = 10.0
    @Option(help: "Idle authenticated connections for the memory figure.") var idleConnections = 1_000
    @Option(help: "More offered rates (submissions/s, comma-separated) to measure latency at, after the highest and half.")
    var latencyRates = ""
    @Option(help: "Events in the log for the rebuild and the queries.") var rebuildEvents = 1_000_000
    @Option(help: "TLS: connections opened (and closed) to measure handshakes per second.") var handshakes = 2_000
    @Option(help: "Submissions sent as fast as possible over 16 connections just before the 1,000/s latency run that follows a burst (0: skip; at most consultd's queue bound, 50,000 by default, or some are answered BUSY).")
    var burstSubmissions = 48_000
    @Option(help: "Events in the log for the start-up figures, loaded at the end of the run (0: skip).") var startupEvents = 10_000_000
    @Option(help: "The eventsourcing peer: its script (relative to the current folder, else to the repository of this executable).")
    var peerScript = "bench/peer-eventsourcing"
    @Option(help: "The eventsourcing peer: events for its batch run (default: half of --copy-events).") var peerBatchEvents: Int?
    @Flag(help: "Skip the eventsourcing peer (said in the output).") var noPeer = false
    @Flag(help: "Measure only TLS beside plain TCP (end to end, handshakes, idle memory) and write <out>/<date>-tls.txt.")
    var tlsOnly = false
    @Flag(help: "Measure only the write path with and without two local witnesses (consultctl witness serve) cosigning consultd's checkpoints, 16 connections, alternating, and write <out>/<date>-witness.txt.")
    var witnessOnly = false
    @Option(help: "With --witness-only: the folder for the witnesses' state files (default: the run's temporary folder, on the same disk as PostgreSQL; each cosignature fsyncs its witness's state twice).")
    var witnessState: String?
    @Option(help: "With --witness-only: rounds of each (with and without witnesses), alternating.") var witnessRounds = 3
    @Flag(help: "Measure only ack latency at --latency-rates on a fresh daemon, each right after a burst of --burst-submissions (for profiling; writes no results).")
    var latencyOnly = false
    @Flag(help: "With --latency-only: after each rate, send the same submissions again at that rate (every one a retry: the duplicate path).")
    var resend = false
    @Option(help: "Measure only end-to-end throughput (16 connections, --submissions) and ack latency at each of --latency-rates on a fresh daemon, and print one line labelled with this name (scripts/bench --synchronous-standby compares a single primary with a synchronous pair this way).")
    var ackOnly: String?
    @Option(help: "With --latency-only or --ack-only: more arguments for consultd, space-separated (e.g. --no-notary).")
    var daemonArguments = ""
    @Option(help: "Where to write the JSON results.") var out = "bench/results"
    @Option(help: "The commit measured (for the file name).") var commit = "unknown"

    func run() throws {
        let admin = try Connection("dbname=postgres")
        let database = "bench_\(UInt32.random(in: 0...UInt32.max))"
        try admin.executeScript("CREATE DATABASE \(database)")  // generated name: digits only
        let conninfo = "dbname=\(database)"
        guard let schema = Schema.locateDirectory() else { throw ValidationError("no schema folder found") }
        let connection = try Connection(conninfo)
        try Migrator(directory: schema).migrate(connection)
        let run = BenchRun(conninfo: conninfo, connection: connection, store: EventStore(connection: connection))

        // The bodies: realistic submissions of about 400 bytes.
        FileHandle.standardError.write(Data("bench: body \(Self.body.utf8.count) bytes; database \(database)\n".utf8))

        // The single-purpose runs: each measures one thing on a fresh log and returns.
        if tlsOnly { return try tlsOnlyRun(run) }
        if witnessOnly { return try witnessOnlyRun(run) }
        if let label = ackOnly { return try ackOnlyRun(run, label: label) }
        if latencyOnly { return try latencyOnlyRun(run) }

        // The whole benchmark, in this order (each scenario's file says what it measures).
        let copyRate = try copyBound(run)
        let naive1 = try naiveAppends(run)
        let peerBatch100 = try eventsourcingPeer(run)
        let tokens = try Self.registerOrganisations(run.store)
        let daemon = try DaemonProcess(conninfo: conninfo)
        let best = try endToEnd(run, daemon: daemon, tokens: tokens)
        try ackLatency(run, daemon: daemon, tokens: tokens, best: best)
        run.report("consultd_peak_rss_mib", daemon.memory("VmHWM") / 1024, "MiB")
        try ackLatencyAfterBurst(run, daemon: daemon, tokens: tokens)
        daemon.stop()
        let tlsRatio = try tlsComparison(conninfo: conninfo, tokens: tokens, report: run.report)
        try notaryComparison(run, tokens: tokens)
        try idleConnectionsMemory(run, tokens: tokens)
        let head = try rebuild(run)
        try queries(run, head: head)
        try verification(run, head: head)
        try startup(run, tokens: tokens)

        let value = Dictionary(uniqueKeysWithValues: run.figures.map { ($0.0, $0.1) })
        var ratios = [
            ("consultd_over_copy", (value["consultd_16_submissions_per_s"] ?? 0) > 0 ? best / copyRate : 0),
            ("consultd_over_naive_1", best / naive1),
            ("tls_over_plain_16", tlsRatio.sixteen),
            ("tls_over_plain_64", tlsRatio.sixtyFour),
            ("notary_over_no_notary", (value["consultd_16_notary_submissions_per_s"] ?? 0) / max(1, value["consultd_16_no_notary_submissions_per_s"] ?? 1)),
        ]
        if let peerBatch100 { ratios.append(("consultd_over_eventsourcing_batch100", best / peerBatch100)) }
        print(([Self.table(run.figures, ratios: ratios)] + run.notes).joined(separator: "\n"))
        try Self.write(run.figures, ratios: ratios, notes: run.notes, commit: commit, folder: out)
    }
}
