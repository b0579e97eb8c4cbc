import ArgumentParser
import Foundation
import JSON

extension Bench {
    /// The peer: the Python library eventsourcing recording the same kind of events in the same
    /// cluster (a database of its own, dropped afterwards). It must not fail quietly: a failure
    /// stops the benchmark, and only --no-peer leaves it out. Returns its batch-of-100 rate.
    func eventsourcingPeer(_ run: BenchRun) throws -> Double? {
        if noPeer {
            run.note("eventsourcing peer: skipped (--no-peer)")
            return nil
        }
        let batchEvents = peerBatchEvents ?? copyEvents / 2
        let peer = try Self.peer(script: peerScript, events: naiveEvents, batchEvents: batchEvents)
        for (name, value) in peer.figures {
            run.report(name, value, Self.peerUnit(name, version: peer.version, events: naiveEvents, batchEvents: batchEvents))
        }
        return peer.figures.first { $0.0 == "eventsourcing_batch100_events_per_s" }?.1
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
}
