import ArgumentParser
import Foundation
import Participation
import PostgresClient
import Projections

struct ProjectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections", abstract: "Manage the projection tables behind the analytics views.",
        subcommands: [Rebuild.self])

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every projection from log position 0, in one transaction (a running consultd follows on).")
        @OptionGroup var db: DatabaseOptions
        @Option(help: "Audit policy file (default: the shipped defaults).") var policy: String?

        func run() {
            let policy = oneLine { try Policy.load(self.policy) }
            let log = Log(db)
            let started = Date()
            let position = oneLine { () -> Int64 in
                try log.store.connection.transaction { connection in
                    // Holding the write lock keeps the daemon's projector out until this commits; it
                    // then sees the checkpoint moved and folds again itself.
                    try connection.execute("SELECT pg_advisory_xact_lock($1)", [Projector.writeLockKey])
                    let fold = try Query.fold(log.store, upTo: nil, conninfo: db.conninfo)
                    try Projector.replace(fold, consultations: nil, policy: policy, connection)
                    return fold.position
                }
            }
            let seconds = Date().timeIntervalSince(started)
            print("rebuilt from position 0 to \(position) in \(String(format: "%.2f", seconds)) s (\(Int(Double(position) / max(seconds, 1e-6))) events/s)")
        }
    }
}
