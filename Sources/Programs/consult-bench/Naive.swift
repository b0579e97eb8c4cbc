import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import Locking
import PostgresClient

extension Bench {
    /// 2. The naive way: one append, one commit, per event, from 1 and from 16 connections (after
    /// opening c1, which the rest of the run submits to). Returns the rate of the one connection.
    func naiveAppends(_ run: BenchRun) throws -> Double {
        try run.store.append(NewEvent(.consultationOpened(Self.consultation("c1"))))
        let naive1 = try Self.naive(run.conninfo, connections: 1, events: naiveEvents, prefix: "n1")
        run.report("naive_1_events_per_s", naive1, "events/s")
        let naive16 = try Self.naive(run.conninfo, connections: 16, events: naiveEvents, prefix: "n16")
        run.report("naive_16_events_per_s", naive16, "events/s")
        return naive1
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
}
