import EventLog
import Foundation
import Participation
import PostgresClient

/// One run's database and what it has measured so far: the figures in the order they were taken,
/// and what the run left out on purpose (printed under the table and kept in the JSON).
final class BenchRun {
    let conninfo: String
    /// The benchmark's own session: loads, checks and waits (never a daemon's).
    let connection: Connection
    let store: EventStore
    private(set) var figures: [(String, Double, String)] = []
    private(set) var notes: [String] = []

    init(conninfo: String, connection: Connection, store: EventStore) {
        self.conninfo = conninfo
        self.connection = connection
        self.store = store
    }

    /// Keeps a figure and prints it at once, so that a long run shows its progress.
    func report(_ name: String, _ value: Double, _ unit: String) {
        figures.append((name, value, unit))
        FileHandle.standardError.write(Data("  \(name): \(ConsultationMetrics.format(value)) \(unit)\n".utf8))
    }

    func note(_ text: String) {
        notes.append(text)
        FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
    }
}
