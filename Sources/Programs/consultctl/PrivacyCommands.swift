import ArgumentParser
import Domain
import EventLog
import Foundation
import Participation
import PostgresClient
import Vault

/// The operator's master key, for commands that seal or open personal content.
struct MasterKeyOptions: ParsableArguments {
    @Option(help: "The master key file (`consultctl keys generate-master`; default: $CONSULT_MASTER_KEY_FILE).")
    var masterKeyFile: String?

    /// The vault, or nil when no key was given (commands that write no personal content need none).
    func vault() throws -> Vault? {
        guard let path = masterKeyFile ?? ProcessInfo.processInfo.environment["CONSULT_MASTER_KEY_FILE"] else { return nil }
        return Vault(master: try MasterKey.load(path))
    }
}

/// The name erasures are recorded under: who ran the command.
func operatorName(_ given: String?) -> String {
    given ?? ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
}

/// `consultctl erase`: destroys the keys of personal content (docs/PRIVACY.md).
struct Erase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase personal content: one submission's, or all of an organisation's, by destroying its keys.",
        discussion: """
            The content stays in the log, sealed, and can never be opened again; a ContentErased event records
            what was erased and by whom (never the content). The log, its Merkle tree, its checkpoints and every
            metric are unchanged. Erasing again changes nothing. Backups made before keep the keys: see
            deploy/README.md, "Erasure and backups".
            """)
    @OptionGroup var db: DatabaseOptions
    @Option var organisation: String?
    @Option(help: "Only this consultation (with --key: one submission).") var consultation: String?
    @Option(help: "Only this submission (needs --consultation).") var key: String?
    @Option(help: "Who asks (default: the user running the command).") var by: String?
    @Option(help: "Why, e.g. \"request of the organisation\".") var reason: String = "request"
    @Flag(help: "After restoring a key backup: destroy again every key the log's erasures destroyed.") var replay = false

    func run() {
        oneLine {
            if replay {
                guard organisation == nil && consultation == nil && key == nil else { throw CommandFailure("--replay takes no scope") }
                let deleted = try Erasure.replay(store: Log(db).store)
                print("replayed the log's erasures: \(deleted) restored key(s) destroyed again")
                return
            }
            guard let organisation else { throw CommandFailure("erase whose content? give --organisation (or --replay after a restore)") }
            let scope = try Erasure.Scope(organisation: organisation, consultation: consultation, key: key)
            let log = Log(db)
            let (events, position) = try Erasure.erase(scope, by: operatorName(by), reason: reason, store: log.store)
            if let position {
                print("erased \(scope): the keys of \(events) event(s) destroyed; recorded at position \(position)")
            } else {
                print("nothing left to erase: \(scope) is already erased (or was never written)")
            }
        }
    }
}

/// `consultctl retention apply`: the policy's retention, from cron.
struct Retention: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the policy's retention_days_after_close: erase the personal content of consultations closed that long ago.",
        subcommands: [Apply.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase the content of every consultation closed more than retention_days_after_close days ago; print what was erased.")
        @OptionGroup var db: DatabaseOptions
        @Option(help: "Policy file with retention_days_after_close.") var policy: String
        @Option(help: "Judge as if at this time (ISO 8601), e.g. to see what a policy would erase later.") var at: String?
        @Flag(help: "Print nothing when nothing was erased (for cron).") var quiet = false

        func run() {
            oneLine {
                let loaded = try Policy.load(policy)
                guard let days = loaded.retentionDaysAfterClose else {
                    throw CommandFailure("policy \(policy) sets no retention_days_after_close: nothing to apply")
                }
                var now = Date()
                if let at {
                    guard let time = Timestamps.parse(at) else { throw CommandFailure("--at: an ISO 8601 time such as 2027-01-10T00:00:00Z") }
                    now = time
                }
                let log = Log(db)
                var erased = 0
                for consultation in try log.registry().consultations.values.sorted(by: { $0.id < $1.id }) {
                    // Effective close: the scheduled close, or an earlier close by command.
                    let closed = min(consultation.closesAt, consultation.closedAt ?? consultation.closesAt)
                    guard closed.addingTimeInterval(days * 86_400) <= now else { continue }
                    let scope = try Erasure.Scope(organisation: nil, consultation: consultation.id, key: nil)
                    let reason = "retention: \(Self.number(days)) days after close (\(Timestamps.format(closed)))"
                    let (events, position) = try Erasure.erase(scope, by: "retention", reason: reason, store: log.store)
                    guard let position else { continue }
                    erased += events
                    print("erased the content of \(events) event(s) of consultation \(consultation.id), closed \(Timestamps.format(closed)) (position \(position))")
                }
                if erased == 0 && !quiet { print("nothing to erase: no consultation closed more than \(Self.number(days)) days ago has content left") }
            }
        }

        static func number(_ days: Double) -> String { days == days.rounded() ? String(Int(days)) : String(days) }
    }
}

/// `consultctl keys …-master`: the master key that seals organisations' data keys.
struct GenerateMaster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-master", abstract: "Write a new master key file (mode 0600) for --master-key-file. Keep it out of the database and its backups.")
    @Option(help: "The file to write.") var out: String = "consultd-master.key"

    func run() {
        let key = MasterKey.generate()
        oneLine {
            guard !FileManager.default.fileExists(atPath: out) else { throw CommandFailure("\(out) exists; nothing was written (a key is never overwritten)") }
            // Created unreadable by others before anything is written to it.
            guard FileManager.default.createFile(atPath: out, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CommandFailure("cannot write \(out)")
            }
            try key.fileText.write(toFile: out, atomically: false, encoding: .utf8)
        }
        print("wrote \(out) (master key id \(key.id)): give it to consultd and consultctl as --master-key-file; without it the content is lost")
    }
}

struct RotateMaster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-master",
        abstract: "Seal every organisation's data key under a new master key too (no downtime; see docs/PRIVACY.md).",
        discussion: """
            1. consultctl keys rotate-master --master-key-file OLD --new-master-key-file NEW
            2. restart each consultd with --master-key-file NEW (one at a time behind a load balancer)
            3. consultctl keys rotate-master again (data keys made meanwhile under OLD), then
               consultctl keys retire-master --id <OLD's id>
            """)
    @OptionGroup var db: DatabaseOptions
    @Option(help: "The master key in use now.") var masterKeyFile: String
    @Option(help: "The new master key (`consultctl keys generate-master`).") var newMasterKeyFile: String

    func run() {
        oneLine {
            let old = try MasterKey.load(masterKeyFile)
            let new = try MasterKey.load(newMasterKeyFile)
            let connection = try Connection(db.conninfo)
            let rotated = try MasterKeyRotation.rotate(from: old, to: new, connection)
            print("sealed \(rotated) data key(s) under master key \(new.id) (they stay sealed under \(old.id) until `retire-master --id \(old.id)`)")
        }
    }
}

struct RetireMaster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire-master", abstract: "Delete the data keys' copies sealed under an old master key.")
    @OptionGroup var db: DatabaseOptions
    @Option(help: "The old master key's id (printed by generate-master and rotate-master).") var id: String
    @Flag(help: "That key is lost: delete its copies even where no other exists (their content is lost with it).") var lost = false

    func run() {
        oneLine {
            let retired = try MasterKeyRotation.retire(id, lost: lost, try Connection(db.conninfo))
            print("deleted \(retired) data key cop\(retired == 1 ? "y" : "ies") sealed under master key \(id)")
        }
    }
}
