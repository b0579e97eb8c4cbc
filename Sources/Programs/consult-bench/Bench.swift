import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import Histogram
import LineClient
import LineProtocol
import Locking
import Logging
import Participation
import Migrations
import PostgresClient
import Projections
import Server
import Trust
import Vault

/// `consult-bench`: ingest and projection speed beside PostgreSQL's own limits, in one run.
/// Run it through `scripts/bench`, which builds in release mode and starts a throwaway PostgreSQL
/// (fsync and synchronous_commit on). Every figure comes from this one run on this one machine.
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
        let store = EventStore(connection: connection)
        var figures: [(String, Double, String)] = []
        // What the run left out on purpose, printed under the table and kept in the JSON.
        var notes: [String] = []
        func note(_ text: String) {
            notes.append(text)
            FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
        }
        func report(_ name: String, _ value: Double, _ unit: String) {
            figures.append((name, value, unit))
            FileHandle.standardError.write(Data("  \(name): \(ConsultationMetrics.format(value)) \(unit)\n".utf8))
        }

        // The bodies: realistic submissions of about 400 bytes.
        let body = Self.body
        FileHandle.standardError.write(Data("bench: body \(body.utf8.count) bytes; database \(database)\n".utf8))

        if tlsOnly {
            try store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
            let tokens = try Self.registerOrganisations(store)
            let ratio = try tlsComparison(conninfo: conninfo, tokens: tokens, report: report)
            let table = Self.table(figures, ratios: [("tls_over_plain_16", ratio.sixteen), ("tls_over_plain_64", ratio.sixtyFour)])
            print(table)
            try Self.writeText(table, commit: commit, folder: out, name: "tls", sizes: "--submissions \(submissions) --handshakes \(handshakes) --idle-connections \(idleConnections)")
            return
        }

        if witnessOnly {
            try store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
            let tokens = try Self.registerOrganisations(store)
            let ratio = try witnessComparison(conninfo: conninfo, connection: connection, tokens: tokens, report: report)
            let table = Self.table(figures, ratios: [("with_two_witnesses_over_without_16", ratio)])
            print(table)
            try Self.writeText(
                table, commit: commit, folder: out, name: "witness",
                sizes: "--witness-only --submissions \(submissions) --witness-rounds \(witnessRounds)" + (witnessState.map { " --witness-state \($0)" } ?? ""),
                what: "one consultd at a time (restarted for each round), --checkpoint-interval 1, with and without two witnesses on loopback")
            return
        }
        if let label = ackOnly {
            try store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
            let tokens = try Self.registerOrganisations(store)
            let daemon = try DaemonProcess(conninfo: conninfo, extra: daemonArguments.split(separator: " ").map(String.init))
            let standby = try connection.execute(
                "SELECT current_setting('synchronous_standby_names') AS n, (SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync') AS s"
            ).first!
            let names: String = try standby.get("n")
            let streaming: Int64 = try standby.get("s")
            FileHandle.standardError.write(Data("bench: \(label): synchronous_standby_names '\(names)', \(streaming) sync standby\n".utf8))
            let throughput = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: submissions, prefix: "t")
            var line = "\(label): \(Int(throughput.rounded())) submissions/s (16 connections, \(submissions) submissions)"
            for (run, rate) in latencyRates.split(separator: ",").compactMap({ Double($0.trimmingCharacters(in: .whitespaces)) }).enumerated() {
                let latency = try Self.paced(
                    port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "a\(run)-\(Int(rate))")
                line += String(format: "; ack at %d/s: p50 %.2f ms, p99 %.2f ms", Int(rate), latency.p50, latency.p99)
            }
            print(line)
            daemon.stop()
            return
        }

        if latencyOnly {
            try store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
            let tokens = try Self.registerOrganisations(store)
            let daemon = try DaemonProcess(conninfo: conninfo, extra: daemonArguments.split(separator: " ").map(String.init))
            FileHandle.standardError.write(Data("bench: consultd pid \(daemon.pid) port \(daemon.port)\n".utf8))
            for (run, rate) in latencyRates.split(separator: ",").compactMap({ Double($0.trimmingCharacters(in: .whitespaces)) }).enumerated() {
                if burstSubmissions > 0 {
                    // Each rate right after a burst (--burst-submissions 0 for a quiet start); the line
                    // below tells a profiler watching this output when the paced run begins.
                    _ = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: burstSubmissions, prefix: "b\(run)-\(Int(rate))")
                    FileHandle.standardError.write(Data("bench: burst sent; paced run at \(Int(rate))/s begins\n".utf8))
                }
                let walBefore = try Self.walCounters(connection)
                let latency = try Self.paced(
                    port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "q\(run)-\(Int(rate))")
                let wal = try Self.walPerSubmission(connection, since: walBefore, submissions: rate * latencySeconds)
                print("at \(Int(rate))/s: p50 \(latency.p50) ms, p99 \(latency.p99) ms, p99.9 \(latency.p999) ms;"
                      + " WAL \(Int(wal.bytes)) bytes per submission, \(wal.checkpoints) checkpoints")
                if resend {
                    let again = try Self.paced(
                        port: daemon.port, tokens: tokens, connections: 16, rate: rate, seconds: latencySeconds, prefix: "q\(run)-\(Int(rate))")
                    print("resent at \(Int(rate))/s: p50 \(again.p50) ms, p99 \(again.p99) ms, p99.9 \(again.p999) ms")
                }
            }
            daemon.stop()
            return
        }

        // 1. The physical bound: COPY into a table with the log's columns and indexes (no triggers).
        try connection.execute("CREATE TABLE bench_copy (LIKE consult.events INCLUDING ALL)")
        let now = Timestamps.format(Date())
        let rows: [[String?]] = (1...copyEvents).map { index in
            let data = #"{"organisation":"o1","consultation":"c1","key":"k\#(index)","submission":\#(body)}"#
            return [String(index), UUID().uuidString, "submission-o1/c1/k\(index)", "1", "SubmissionReceived", data, "{}", now,
                    "submission-o1/c1/k\(index)"]
        }
        var started = Date()
        try connection.copy("COPY bench_copy FROM STDIN", rows: rows)
        let copyRate = Double(copyEvents) / Date().timeIntervalSince(started)
        report("copy_events_per_s", copyRate, "events/s")

        // 2. The naive way: one append, one commit, per event.
        try store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let naive1 = try Self.naive(conninfo, connections: 1, events: naiveEvents, prefix: "n1")
        report("naive_1_events_per_s", naive1, "events/s")
        let naive16 = try Self.naive(conninfo, connections: 16, events: naiveEvents, prefix: "n16")
        report("naive_16_events_per_s", naive16, "events/s")

        // The peer: the Python library eventsourcing recording the same kind of events in the same
        // cluster (a database of its own, dropped afterwards). It must not fail quietly: a failure
        // stops the benchmark, and only --no-peer leaves it out.
        var peerBatch100: Double?
        if noPeer {
            note("eventsourcing peer: skipped (--no-peer)")
        } else {
            let batchEvents = peerBatchEvents ?? copyEvents / 2
            let peer = try Self.peer(script: peerScript, events: naiveEvents, batchEvents: batchEvents)
            for (name, value) in peer.figures {
                report(name, value, Self.peerUnit(name, version: peer.version, events: naiveEvents, batchEvents: batchEvents))
            }
            peerBatch100 = peer.figures.first { $0.0 == "eventsourcing_batch100_events_per_s" }?.1
        }

        // 3. consultd end to end.
        let tokens = try Self.registerOrganisations(store)
        let daemon = try DaemonProcess(conninfo: conninfo)
        var best = 0.0
        for connections in [1, 16, 64] {
            let rate = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: connections,
                                         submissions: submissions, prefix: "e\(connections)")
            report("consultd_\(connections)_submissions_per_s", rate, "submissions/s")
            best = max(best, rate)
        }
        // Latency over 16 connections (many organisations at once, as in a real consultation); a single
        // connection's requests are parsed on its one serial queue, which makes it the slower path here.
        let pacedConnections = 16
        var extra: [Double] = []
        for rate in latencyRates.split(separator: ",").compactMap({ Double($0.trimmingCharacters(in: .whitespaces)) })
        where rate > 0 && !extra.contains(rate) {
            extra.append(rate)
        }
        for (label, rate) in [("highest", best), ("half", best / 2)] + extra.map { ("at_\(Int($0))", $0) } {
            // Each run starts once the daemon's projector has caught up with the runs before it.
            try Self.waitForProjection(conninfo, head: try store.headPosition())
            let latency = try Self.paced(
                port: daemon.port, tokens: tokens, connections: pacedConnections, rate: rate, seconds: latencySeconds, prefix: "l\(label)")
            report("ack_latency_\(label)_rate", rate, "submissions/s offered")
            report("ack_latency_\(label)_connections", Double(pacedConnections), "connections")
            report("ack_latency_\(label)_p50_ms", latency.p50, "ms")
            report("ack_latency_\(label)_p99_ms", latency.p99, "ms")
            report("ack_latency_\(label)_p999_ms", latency.p999, "ms")
        }
        report("consultd_peak_rss_mib", daemon.memory("VmHWM") / 1024, "MiB")

        // Ack latency right after a burst: the paced submissions arrive while the projector is still
        // folding and writing the end of the burst, so they compete with its catching up (how far
        // behind it was is reported beside them). The burst starts once the projection has caught up
        // with the runs before it; the paced run starts at once after the burst's last OK.
        if burstSubmissions > 0 {
            try Self.waitForProjection(conninfo, head: try store.headPosition())
            let burst = try Self.endToEnd(port: daemon.port, tokens: tokens, connections: 16, submissions: burstSubmissions, prefix: "burst")
            let lag = try Self.projectionLag(connection)
            let treeLag = try store.headPosition() - TreeStore(connection: connection).size()
            let walBefore = try Self.walCounters(connection)
            let latency = try Self.paced(
                port: daemon.port, tokens: tokens, connections: pacedConnections, rate: 1000, seconds: latencySeconds, prefix: "lburst")
            let wal = try Self.walPerSubmission(connection, since: walBefore, submissions: 1000 * latencySeconds)
            report("burst_16_submissions_per_s", burst, "submissions/s (\(burstSubmissions / 16 * 16) submissions, just before the run below)")
            report("ack_latency_after_burst_projection_lag_events", Double(lag), "events not yet projected when the paced run started")
            report("ack_latency_after_burst_tree_lag_events", Double(treeLag), "events not yet in the Merkle tree when the paced run started")
            report("ack_latency_after_burst_wal_bytes_per_submission", wal.bytes,
                   "bytes of WAL (everything the cluster wrote) per paced submission, \(wal.checkpoints) checkpoints meanwhile")
            report("ack_latency_after_burst_1000_p50_ms", latency.p50, "ms (1,000/s over \(pacedConnections) connections, right after the burst)")
            report("ack_latency_after_burst_1000_p99_ms", latency.p99, "ms")
            report("ack_latency_after_burst_1000_p999_ms", latency.p999, "ms")
        } else {
            note("ack latency after a burst: skipped (--burst-submissions 0)")
        }
        daemon.stop()
        let tlsRatio = try tlsComparison(conninfo: conninfo, tokens: tokens, report: report)

        // The tree's cost on ingest: the same 16-connection load on a daemon with its notary and on
        // one without, alternating three times (the machine's noise is large); each notary run starts
        // once the tree has caught up with the log, so it pays only for its own submissions.
        var withNotary: [Double] = []
        var withoutNotary: [Double] = []
        for round in 0..<3 {
            for notary in [true, false] {
                let run = try DaemonProcess(conninfo: conninfo, extra: notary ? [] : ["--no-notary"])
                if notary { try Self.waitForTree(connection, head: try store.headPosition()) }
                let rate = try Self.endToEnd(
                    port: run.port, tokens: tokens, connections: 16, submissions: submissions, prefix: "t\(round)\(notary)")
                if notary { withNotary.append(rate) } else { withoutNotary.append(rate) }
                run.stop()
            }
        }
        report("consultd_16_notary_submissions_per_s", withNotary.reduce(0, +) / 3, "submissions/s (mean of 3)")
        report("consultd_16_no_notary_submissions_per_s", withoutNotary.reduce(0, +) / 3, "submissions/s (mean of 3)")

        // Idle connections on a fresh daemon, so the figure is theirs and not the load's high-water mark.
        let fresh = try DaemonProcess(conninfo: conninfo)
        // Its projector first folds the whole log (memory that grows with the log, not with connections).
        try Self.waitForProjection(conninfo, head: try store.headPosition())
        report("consultd_rss_fresh_mib", fresh.memory("VmRSS") / 1024, "MiB")
        let idle = try (0..<idleConnections).map { index -> LineClient in
            let client = try LineClient(port: fresh.port)
            _ = try client.request("AUTH o\(index % 64 + 1) \(tokens[index % 64])")
            return client
        }
        report("consultd_rss_idle_connections_mib", fresh.memory("VmRSS") / 1024, "MiB")
        withExtendedLifetime(idle) {}
        fresh.stop()

        // 4. Projection rebuild from 0 over a large log: one consultation with most of the events.
        try store.append(NewEvent(.consultationOpened(Self.consultation("c-big"))))
        let existing = try store.headPosition()
        let toLoad = max(0, rebuildEvents - Int(existing))
        started = Date()
        try Self.loadSubmissions(connection, keys: 1...max(1, toLoad), prefix: "b", when: toLoad > 0)
        FileHandle.standardError.write(Data("bench: loaded \(toLoad) events in \(Int(Date().timeIntervalSince(started))) s\n".utf8))
        // What autovacuum would do after a bulk load, done now rather than during the measurements below.
        try connection.execute("VACUUM (ANALYZE) consult.events")
        let head = try store.headPosition()
        started = Date()
        var fold = LogFold()
        try connection.transaction { connection in
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [Projector.writeLockKey])
            try LogReader.fold(connection, and: try Connection(conninfo), into: &fold, through: head)
            try Projector.replace(fold, consultations: nil, policy: Policy(), connection)
        }
        report("rebuild_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")

        // 5. Queries on the big consultation: from the projection, and as of a middle position (the fold).
        started = Date()
        let rowsRead = try connection.execute("SELECT * FROM analytics.metrics WHERE consultation = 'c-big'").rows.count
        report("query_metrics_s", Date().timeIntervalSince(started), "s")
        precondition(rowsRead > 0)
        started = Date()
        var middle = LogFold()
        try LogReader.fold(connection, into: &middle, through: head / 2)
        _ = ConsultationMetrics(consultation: "c-big", fold: middle, minRatio: 0.5)
        report("as_of_fold_s", Date().timeIntervalSince(started), "s")
        report("as_of_fold_events", Double(head / 2), "events")

        // 6. Verification over the whole log: the tree alone (every leaf recomputed from the events,
        // the roots, the stored tree), then all of `consultctl verify` (also decoding every event and
        // the SQL checks of order, stream versions, triggers and privileges), as a process.
        started = Date()
        let findings = try LogVerifier(connection: connection, conninfo: conninfo).verify(key: nil)
        report("verify_tree_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")
        precondition(findings.first?.passed == true, "the benchmark's log verifies")
        let consultctl = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("consultctl").path
        started = Date()
        let verify = Process()
        verify.executableURL = URL(fileURLWithPath: consultctl)
        verify.arguments = ["verify", "--database", conninfo]
        verify.standardOutput = FileHandle.nullDevice
        try verify.run()
        verify.waitUntilExit()
        report("verify_command_events_per_s", Double(head) / Date().timeIntervalSince(started), "events/s")
        precondition(verify.terminationStatus == 0, "consultctl verify passes on the benchmark's log")

        // 7. Start-up on a large log: the same kind of events loaded up to --startup-events, then a
        // daemon started on it twice. The first folds the whole log; the second may start from what
        // the first left (the fold's snapshot, once there is one), else folds it all again.
        if startupEvents > 0 {
            try Self.loadStartupLog(connection, total: startupEvents)
            // The notary would also catch its Merkle tree up over the loaded events, on the same two
            // cores, and so slow the projector's start: these daemons run without it (--no-notary),
            // so that the figures are the projection's start alone.
            for label in ["first", "again"] {
                // One event more than the projection holds (the checkpoint may already be at the head):
                // the daemon has caught up when its checkpoint reaches it, which it writes only after
                // folding everything before it.
                try store.append(NewEvent(
                    Commands.received(SubmissionKey(organisation: "o1", consultation: "c-big", key: "startup-\(label)"),
                                      body: try JSONParser().parse(body)),
                    metadata: .object([])))
                let head = try store.headPosition()
                if label == "first" { report("startup_log_events", Double(head), "events") }
                let daemon = try DaemonProcess(conninfo: conninfo, extra: ["--no-notary"], timeout: 600, poll: 0.01)
                report("startup_\(label)_accept_s", daemon.listening.timeIntervalSince(daemon.spawned), "s (spawn to listening, --no-notary)")
                // Listening is not yet accepting: a submission needs the registry loaded (its
                // organisations, credentials and consultations). Measured from spawn to the first OK.
                let client = try LineClient(port: daemon.port)
                let auth = try client.request("AUTH o1 \(tokens[0])")
                let submitted = try client.request("SUBMIT c-big startup-ack-\(label) \(body)")
                guard auth.hasPrefix("OK AUTH"), submitted.hasPrefix("OK SUBMIT") else {
                    throw ValidationError("the daemon started on the large log did not accept a submission: \(auth) / \(submitted)")
                }
                report("startup_\(label)_first_ack_s", Date().timeIntervalSince(daemon.spawned), "s (spawn to the first SUBMIT acknowledged)")
                try Self.waitForProjection(conninfo, head: head, timeout: 3_600)
                let projected = Date()
                report("startup_\(label)_projected_s", projected.timeIntervalSince(daemon.spawned), "s (spawn to the projection at the log's head)")
                report("startup_\(label)_peak_rss_mib", daemon.memory("VmHWM") / 1024, "MiB (VmHWM once projected)")
                report("startup_\(label)_rss_mib", daemon.memory("VmRSS") / 1024, "MiB (VmRSS once projected)")
                daemon.stop()
            }
        } else {
            note("start-up on a large log: skipped (--startup-events 0)")
        }

        let value = Dictionary(uniqueKeysWithValues: figures.map { ($0.0, $0.1) })
        var ratios = [
            ("consultd_over_copy", (value["consultd_16_submissions_per_s"] ?? 0) > 0 ? best / copyRate : 0),
            ("consultd_over_naive_1", best / naive1),
            ("tls_over_plain_16", tlsRatio.sixteen),
            ("tls_over_plain_64", tlsRatio.sixtyFour),
            ("notary_over_no_notary", (value["consultd_16_notary_submissions_per_s"] ?? 0) / max(1, value["consultd_16_no_notary_submissions_per_s"] ?? 1)),
        ]
        if let peerBatch100 { ratios.append(("consultd_over_eventsourcing_batch100", best / peerBatch100)) }
        print(([Self.table(figures, ratios: ratios)] + notes).joined(separator: "\n"))
        try Self.write(figures, ratios: ratios, notes: notes, commit: commit, folder: out)
    }

    /// The figures the eventsourcing peer must print (it may print more; every number is reported).
    static let peerFigures = [
        "eventsourcing_1_events_per_s", "eventsourcing_16_events_per_s", "eventsourcing_batch100_events_per_s",
        "eventsourcing_1_p50_ms", "eventsourcing_1_p99_ms",
    ]

    /// Runs the eventsourcing peer (`bench/peer-eventsourcing`, in this process's PostgreSQL
    /// environment) and returns the numbers of its one line of JSON, in its order. Its progress goes
    /// to this process's standard error. Throws when it fails or leaves a figure out.
    static func peer(script: String, events: Int, batchEvents: Int) throws -> (version: String, figures: [(String, Double)]) {
        guard let path = locate(script) else {
            throw ValidationError("the eventsourcing peer \(script) is not there (run from the repository's root, give --peer-script, or --no-peer)")
        }
        FileHandle.standardError.write(Data("bench: eventsourcing peer: \(path) --events \(events) --batch-events \(batchEvents)\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--events", String(events), "--batch-events", String(batchEvents)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw ValidationError("the eventsourcing peer failed (\(process.terminationReason == .exit ? "exit status" : "signal") "
                                  + "\(process.terminationStatus)); --no-peer skips it")
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { !$0.allSatisfy(\.isWhitespace) }),
            case .object(let members) = try? JSONParser().parse(String(line))
        else {
            throw ValidationError("the eventsourcing peer printed no JSON object: \(text.prefix(500))")
        }
        let figures = members.compactMap { name, value -> (String, Double)? in
            guard case .number(let number) = value, let double = Double(number) else { return nil }
            return (name, double)
        }
        let missing = peerFigures.filter { name in !figures.contains { $0.0 == name } }
        guard missing.isEmpty else { throw ValidationError("the eventsourcing peer left out \(missing.joined(separator: ", ")): \(line)") }
        return (members.first { $0.0 == "eventsourcing_version" }?.1.stringValue ?? "?", figures)
    }

    static func peerUnit(_ name: String, version: String, events: Int, batchEvents: Int) -> String {
        switch name {
        case "eventsourcing_1_events_per_s": return "events/s (eventsourcing \(version), 1 writer, a transaction per event, \(events) events)"
        case "eventsourcing_16_events_per_s": return "events/s (16 writers, a transaction per event, \(events) events)"
        case "eventsourcing_batch100_events_per_s": return "events/s (1 writer, 100 events per transaction, \(batchEvents) events)"
        case "eventsourcing_1_p50_ms", "eventsourcing_1_p99_ms": return "ms (1 writer, one insert)"
        default: return name.hasSuffix("_ms") ? "ms" : name.hasSuffix("_per_s") ? "events/s" : ""
        }
    }

    /// `path` as given when it exists from the current folder (or is absolute), else relative to the
    /// repository holding this executable (`.build/<triple>/release/consult-bench`: the first folder
    /// above it that has `path`).
    static func locate(_ path: String) -> String? {
        if FileManager.default.isExecutableFile(atPath: path) {
            return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        guard !path.hasPrefix("/") else { return nil }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent(path).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// Events of the log not yet in the projection (the log's head less the checkpoint).
    static func projectionLag(_ connection: Connection) throws -> Int64 {
        try connection.execute(
            """
            SELECT coalesce((SELECT max(position) FROM consult.events), 0) - position AS lag
              FROM consult.projection_checkpoint WHERE name = 'metrics'
            """).first!.get("lag", as: Int64.self)
    }

    /// Appends one SubmissionReceived to c-big per key in `keys` (from o1…o64 in turn), in one
    /// statement. The rows come numbered (after the head) and timed, so the per-row numbering trigger
    /// is skipped (three times faster) while the statement's check still proves they continue the log;
    /// nothing else may append meanwhile (no daemon runs during the loads).
    static func loadSubmissions(_ connection: Connection, keys: ClosedRange<Int>, prefix: String, when: Bool = true) throws {
        guard when else { return }
        try connection.execute(
            """
            INSERT INTO consult.events (position, recorded_at, event_id, stream, version, type, data, metadata, idempotency_key)
            SELECT (SELECT coalesce(max(position), 0) FROM consult.events) + i - $2 + 1, clock_timestamp(), gen_random_uuid(),
                   'submission-o' || (i % 64 + 1) || '/c-big/' || $4 || i, 1, 'SubmissionReceived',
                   jsonb_build_object('organisation', 'o' || (i % 64 + 1), 'consultation', 'c-big', 'key', $4 || i,
                                      'submission', $1::jsonb),
                   '{}', 'submission-o' || (i % 64 + 1) || '/c-big/' || $4 || i
              FROM generate_series($2::int, $3::int) AS i
            """, [JSONText(body), keys.lowerBound, keys.upperBound, prefix])
    }

    /// Loads submissions for c-big until the log holds `total` events: one INSERT of at most a
    /// million rows per transaction (as the rebuild's load, keys of their own), then what autovacuum
    /// would do after it.
    static func loadStartupLog(_ connection: Connection, total: Int) throws {
        let existing = Int(try EventStore(connection: connection).headPosition())
        let toLoad = max(0, total - existing)
        let started = Date()
        var loaded = 0
        while loaded < toLoad {
            let chunk = min(1_000_000, toLoad - loaded)
            try loadSubmissions(connection, keys: (loaded + 1)...(loaded + chunk), prefix: "s")
            loaded += chunk
            FileHandle.standardError.write(Data("bench: start-up log: \(existing + loaded) events (\(Int(Date().timeIntervalSince(started))) s)\n".utf8))
        }
        try connection.execute("VACUUM (ANALYZE) consult.events")
        FileHandle.standardError.write(Data("bench: start-up log: loaded \(toLoad) events and vacuumed in \(Int(Date().timeIntervalSince(started))) s\n".utf8))
    }

    /// The cluster's WAL written so far in bytes, and its checkpoints.
    static func walCounters(_ connection: Connection) throws -> (bytes: Int64, checkpoints: Int64) {
        let row = try connection.execute(
            "SELECT (pg_current_wal_lsn() - '0/0')::bigint AS bytes, checkpoints_timed + checkpoints_req AS checkpoints FROM pg_stat_bgwriter").first!
        return (try row.get("bytes", as: Int64.self), try row.get("checkpoints", as: Int64.self))
    }

    /// The WAL written since `before`, per submission of the `submissions` sent meanwhile, and the checkpoints.
    static func walPerSubmission(
        _ connection: Connection, since before: (bytes: Int64, checkpoints: Int64), submissions: Double
    ) throws -> (bytes: Double, checkpoints: Int64) {
        let now = try walCounters(connection)
        return (Double(now.bytes - before.bytes) / submissions, now.checkpoints - before.checkpoints)
    }

    /// Organisations o1…o64 with a credential each; returns their tokens in order.
    static func registerOrganisations(_ store: EventStore) throws -> [String] {
        var tokens: [String] = []
        for index in 1...64 {
            let token = Credentials.newToken()
            try store.append(batch: [
                NewEvent(.organisationRegistered(Organisation(
                    id: "o\(index)", name: "O\(index)", type: "ngo", leadership: index % 3 == 0 ? ["refugees"] : [], level: "local", country: "JOR"))),
                NewEvent(.credentialIssued(CredentialIssued(organisation: "o\(index)", credential: "k1", sha256: Credentials.hash(token)))),
            ])
            tokens.append(token)
        }
        return tokens
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

    /// Ports free now on 127.0.0.1 (the kernel's choice for port 0, released again).
    static func freePorts(_ count: Int) throws -> [UInt16] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        return try (0..<count).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw ValidationError("no free port") }
            return UInt16(bigEndian: address.sin_port)
        }
    }

    /// Returns once the Merkle tree covers `head` (polled: the notary does not notify).
    static func waitForTree(_ connection: Connection, head: Int64) throws {
        let deadline = Date().addingTimeInterval(600)
        while try TreeStore(connection: connection).size() < head {
            guard Date() < deadline else { throw ValidationError("the tree did not reach position \(head)") }
            Thread.sleep(forTimeInterval: 0.1)  // a bench's wait for another process's progress
        }
    }

    /// Returns once the projection checkpoint reached `head`, woken by the projector's notifications.
    static func waitForProjection(_ conninfo: String, head: Int64, timeout: Double = 600) throws {
        let listener = try Connection(conninfo)
        try listener.listen(Projector.channel)
        let deadline = Date().addingTimeInterval(timeout)
        while try listener.execute("SELECT position FROM consult.projection_checkpoint WHERE name = 'metrics'").first!
            .get("position", as: Int64.self) < head
        {
            guard Date() < deadline else { throw ValidationError("the projection did not reach position \(head)") }
            _ = try listener.waitForNotifications(timeout: 1)
        }
    }

    static let body = JSONValue.object([
        ("stage", .string("design")), ("language", .string("ar")),
        ("text", .string("Girls in our camp leave school at fourteen because the bus to the secondary school costs too much and families need them at home; a small stipend and a safe route would keep hundreds of them enrolled.")),
        ("represents", .object([("gender", .array([.string("female")])), ("age", .array([.string("18-24")]))])),
        ("people_consulted", .number("120")), ("topics", .array([.string("education"), .string("transport")])),
    ]).serialized

    static func consultation(_ id: String) -> Consultation {
        Consultation(
            id: id, title: "Benchmark \(id)", convener: "bench", opensAt: Date().addingTimeInterval(-86_400),
            closesAt: Date().addingTimeInterval(365 * 86_400), stages: ["design", "implementation"], languages: ["ar", "en"],
            baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["18-24": 0.3, "25-59": 0.6, "60+": 0.1]])
    }

    /// One `consult.append` per event, each in its own transaction, from `connections` threads.
    static func naive(_ conninfo: String, connections: Int, events: Int, prefix: String) throws -> Double {
        // Each thread takes its own store (a connection is used by one thread at a time).
        let stores = Locked(try (0..<connections).map { _ in EventStore(connection: try Connection(conninfo)) })
        let perConnection = events / connections
        let errors = Locked(0)
        let started = Date()
        parallel(connections) { index in
            let store = stores.withLock { $0[index] }
            for event in 0..<perConnection {
                let key = "\(prefix)-\(index)-\(event)"
                do {
                    try store.append(NewEvent(Commands.received(SubmissionKey(organisation: "o1", consultation: "c1", key: key), body: try! JSONParser().parse(body)), metadata: .object([])))
                } catch {
                    errors.withLock { $0 += 1 }
                }
            }
        }
        guard errors.current == 0 else { throw ValidationError("\(errors.current) naive appends failed") }
        return Double(perConnection * connections) / Date().timeIntervalSince(started)
    }

    /// Each connection pipelines its share of SUBMITs; counted when its OK arrives.
    static func endToEnd(port: UInt16, tokens: [String], connections: Int, submissions: Int, prefix: String,
                         tls: TLSClientConfiguration? = nil) throws -> Double {
        let clients = try (0..<connections).map { index -> LineClient in
            let client = try LineClient(port: port, tls: tls)
            _ = try client.request("AUTH o\(index + 1) \(tokens[index])")
            return client
        }
        let perConnection = submissions / connections
        let failures = Locked(0)
        let started = Date()
        parallel(connections) { index in
            let client = clients[index]
            let request = (0..<perConnection).map { "SUBMIT c1 \(prefix)-\($0) \(body)\n" }.joined()
            Thread { try? client.send(bytes: Array(request.utf8)) }.start()
            for _ in 0..<perConnection {
                guard let reply = try? client.readLine(), reply.hasPrefix("OK SUBMIT") else {
                    failures.withLock { $0 += 1 }
                    return
                }
            }
        }
        guard failures.current == 0 else { throw ValidationError("\(failures.current) connections saw a failed SUBMIT") }
        return Double(perConnection * connections) / Date().timeIntervalSince(started)
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

    static func table(_ figures: [(String, Double, String)], ratios: [(String, Double)]) -> String {
        let width = figures.map(\.0.count).max() ?? 10
        var lines = ["figure".padding(toLength: width, withPad: " ", startingAt: 0) + "  value"]
        for (name, value, unit) in figures {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(ConsultationMetrics.format(value)) \(unit)")
        }
        for (name, value) in ratios {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(ConsultationMetrics.format(value))")
        }
        return lines.joined(separator: "\n")
    }

    /// The table as text, with what was measured and where, in `<folder>/<date>-<name>.txt`.
    static func writeText(
        _ table: String, commit: String, folder: String, name: String, sizes: String,
        what: String = "one consultd serving plain TCP and TLS on two ports"
    ) throws {
        let date = String(Timestamps.format(Date()).prefix(10))
        // What else ran on the machine shows in its load; the figures mean little without it.
        let load = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        let header = """
            consult-bench \(sizes.hasPrefix("--witness-only") ? "" : "--tls-only ")\(sizes)
            date \(date), commit \(commit), \(ProcessInfo.processInfo.activeProcessorCount) cores shared by the clients, consultd and
            PostgreSQL (fsync=on, synchronous_commit=on); \(what);
            load average at the end: \(load.joined(separator: " ")).

            """
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(date)-\(name).txt"
        try Data((header + table + "\n").utf8).write(to: URL(fileURLWithPath: path))
        FileHandle.standardError.write(Data("bench: wrote \(path)\n".utf8))
    }

    static func write(_ figures: [(String, Double, String)], ratios: [(String, Double)], notes: [String] = [], commit: String, folder: String) throws {
        let date = String(Timestamps.format(Date()).prefix(10))
        let json = JSONValue.object([
            ("date", .string(date)), ("commit", .string(commit)), ("cores", .number(String(ProcessInfo.processInfo.activeProcessorCount))),
            ("durability", .string("fsync=on, synchronous_commit=on")),
            ("figures", .object(figures.map { ($0.0, .object([("value", .number(ConsultationMetrics.format($0.1))), ("unit", .string($0.2))])) })),
            ("ratios", .object(ratios.map { ($0.0, .number(ConsultationMetrics.format($0.1))) })),
        ] + (notes.isEmpty ? [] : [("notes", .array(notes.map { .string($0) }))]))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(date)-\(commit).json"
        try Data((json.serialized + "\n").utf8).write(to: URL(fileURLWithPath: path))
        FileHandle.standardError.write(Data("bench: wrote \(path)\n".utf8))
    }
}

/// The release `consultd` beside this executable, on a free port (or on `ports`: `--port` the first,
/// the others given in `extra`, all listened on before it counts as started).
final class DaemonProcess {
    let pid: pid_t
    let port: UInt16
    /// Just before the spawn, and when its ports were first seen listening.
    let spawned: Date
    let listening: Date

    /// A master key for the benchmark's daemons (consultd seals personal content, docs/PRIVACY.md).
    static let masterKeyFile: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consult-bench-\(UUID().uuidString).key").path
        FileManager.default.createFile(atPath: path, contents: Data(MasterKey.generate().fileText.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }()

    /// Waits up to `timeout` seconds for the ports, looking every `poll` seconds; a daemon that
    /// exits or does not listen in time is an error (and is stopped).
    init(conninfo: String, extra: [String] = [], ports: [UInt16]? = nil, timeout: Double = 15, poll: Double = 0.05) throws {
        let path = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("consultd").path
        // The throughput runs pipeline thousands of requests per connection at once, so the last wait
        // behind the others for longer than a request's deadline (--database-timeout from its
        // arrival, 5 s by default): they would be answered BUSY, which measures the backlog, not
        // the write path. A later --database-timeout in `extra` overrides this one.
        let arguments = [path, "--database", conninfo, "--port", String(ports?.first ?? 0), "--log-level", "warning", "--master-key-file", Self.masterKeyFile,
                         "--database-timeout", "60"] + extra
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        spawned = Date()
        guard posix_spawn(&child, path, nil, nil, argv, envp) == 0 else { throw ValidationError("cannot start \(path)") }
        pid = child
        // The daemon logs its port at info level, which --log-level warning hides: find it from /proc.
        var found: Set<UInt16> = []
        let wanted = Set(ports ?? [])
        let deadline = spawned.addingTimeInterval(timeout)
        while found.isEmpty || !found.isSuperset(of: wanted) {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child { throw ValidationError("consultd exited while starting (status \(status))") }
            guard Date() < deadline else {
                // Not initialised, so deinit will not stop it: done here.
                kill(child, SIGTERM)
                waitpid(child, &status, 0)
                throw ValidationError("consultd did not start listening in \(Int(timeout)) s")
            }
            found = Self.listeningPorts(of: child)
            if found.isEmpty || !found.isSuperset(of: wanted) { Thread.sleep(forTimeInterval: poll) }  // polling another process
        }
        listening = Date()
        port = ports?.first ?? found.first!
    }

    /// The TCP ports the process listens on, from /proc/net/tcp and its file descriptors.
    static func listeningPorts(of pid: pid_t) -> Set<UInt16> {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return [] }
        let inodes = Set(descriptors.compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        var ports: Set<UInt16> = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let table = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])),
                    let port = UInt16(fields[1].split(separator: ":").last ?? "", radix: 16)
                else { continue }
                ports.insert(port)
            }
        }
        return ports
    }

    /// Returns once the resident memory has stayed within 256 KiB for two seconds (polled: the
    /// daemon does not say when its start-up work is done).
    func waitUntilMemorySettles() throws {
        let deadline = Date().addingTimeInterval(120)
        var samples: [Double] = []
        while Date() < deadline {
            samples.append(memory("VmRSS"))
            if samples.count >= 9, let low = samples.suffix(9).min(), let high = samples.suffix(9).max(), high - low < 256 { return }
            Thread.sleep(forTimeInterval: 0.25)  // a bench's wait for another process's progress
        }
        throw ValidationError("consultd's memory did not settle")
    }

    /// A memory figure from /proc/PID/status, in KiB.
    func memory(_ field: String) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    private var stopped = false

    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// A benchmark that fails part way must not leave a daemon running.
    deinit { stop() }
}

/// Runs `body` on `count` threads of its own at once (concurrentPerform would run only as many
/// at a time as there are cores, which turns concurrent clients into queued ones) and waits for all.
func parallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        let thread = Thread {
            body(index)
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
}
