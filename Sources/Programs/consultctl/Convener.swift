import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import LogWriter
import PostgresClient
import Vault

/// Opens the log and reads the registry (organisations, credentials, consultations) from it.
struct Log {
    let store: EventStore
    /// Seals personal content (feedback); nil when no master key was given.
    let vault: Vault?

    init(_ options: DatabaseOptions, keys: MasterKeyOptions? = nil) {
        do {
            vault = try keys?.vault()
        } catch {
            fail("\(error)")
        }
        do {
            store = EventStore(connection: try Connection(options.conninfo))
        } catch {
            fail("cannot reach the database: \(error)")
        }
    }

    func registry() throws -> Registry {
        var registry = Registry()
        for event in try store.read(after: 0, types: Registry.eventTypes).events { try registry.apply(event) }
        return registry
    }

    /// A stream's events, decoded, and its version: what a command decides from.
    func state(of stream: String) throws -> StreamState {
        let events = try store.read(stream: stream)
        return StreamState(events: try events.map { try $0.decoded() }, version: events.last?.version ?? 0)
    }

    func version(of stream: String) throws -> Int64 {
        try store.read(stream: stream).last?.version ?? 0
    }

    /// Appends what a command decided, all or nothing, through the same seal-and-append service as
    /// consultd's; any refusal is reported as one line and nothing is written.
    func append(_ decided: Result<[PendingEvent], DomainError>) throws -> [Appended] {
        let actor = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        let metadata = JSONValue.object([("tool", .string("consultctl")), ("actor", .string(actor))])
        do {
            return try LogWriter(vault: vault).appendAll(try decided.get().map { NewEvent($0, metadata: metadata) }, store: store)
        } catch is LogWriter.NoMasterKey {
            throw CommandFailure("this writes personal content, sealed under the master key: give --master-key-file")
        }
    }

    func append(_ decided: Result<PendingEvent, DomainError>) throws -> Appended {
        try append(decided.map { [$0] })[0]
    }
}

/// Runs `body`, turning any failure into one line on stderr and exit code 1.
func oneLine<T>(_ body: () throws -> T) -> T {
    do {
        return try body()
    } catch let refusal as DomainError {
        fail(refusal.description)
    } catch let error as PostgresError where error.sqlState == SQLState.undefinedTable || error.sqlState == SQLState.invalidSchemaName {
        // A database nobody migrated: say what to do, not which relation is missing.
        fail("this database has no consultd schema yet: run `consultctl migrate` (as the database's owner) first")
    } catch let error as AppendError {
        fail("refused by the log: \(error) (someone changed it meanwhile? try again)")
    } catch {
        fail("\(error)")
    }
}

func list(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

struct Org: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Register organisations and manage their credentials.",
        subcommands: [Add.self, Update.self, List.self, RotateCredential.self, Revoke.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an organisation and print its first credential (shown once, only its hash is kept).")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Option var name: String
        @Option(help: "One of \(ConvenerRules.organisationTypes.joined(separator: ", ")).") var type: String
        @Option(help: "Comma-separated: \(ConvenerRules.leadership.joined(separator: ", ")) (may be empty).")
        var leadership: String = ""
        @Option(help: "local, national, regional or global.") var level: String
        @Option(help: "ISO 3166-1 alpha-3, e.g. JOR.") var country: String
        @Flag(help: "Print only the token (for TOKEN=$(consultctl org add … --print-token)).") var printToken = false

        func run() {
            let organisation = Organisation(
                id: id, name: name, type: type, leadership: list(leadership), level: level, country: country)
            let token = Credentials.newToken()
            oneLine {
                let log = Log(db)
                _ = try log.append(Commands.register(organisation, tokenHash: Credentials.hash(token), registry: try log.registry()))
            }
            if printToken { return print(token) }
            print("registered \(id); credential k1: \(token)")
            print("Give this token to the organisation now: it is not stored and cannot be shown again.")
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an organisation's profile (fields not given are kept).",
            discussion: "Records OrganisationProfileChanged with the whole new profile. Submissions already made keep the profile they were made under.")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Option var name: String?
        @Option(help: "One of \(ConvenerRules.organisationTypes.joined(separator: ", ")).") var type: String?
        @Option(help: "Comma-separated: \(ConvenerRules.leadership.joined(separator: ", ")); an empty string clears it.")
        var leadership: String?
        @Option(help: "local, national, regional or global.") var level: String?
        @Option(help: "ISO 3166-1 alpha-3, e.g. JOR.") var country: String?

        func run() {
            let done = oneLine { () -> String in
                let log = Log(db)
                // The current profile and the stream version it stands at, from one read of the
                // organisation's stream: the append expects that version, so a change committed
                // meanwhile makes this one fail (one line, nothing written) instead of overwriting it.
                let decided = Commands.changeProfile(
                    of: id, name: name, type: type, leadership: leadership.map(list), level: level, country: country,
                    stream: try log.state(of: Streams.organisation(id)))
                guard let pending = try decided.get() else { return "\(id) already has this profile; nothing written" }
                return "updated \(id) at position \(try log.append(.success(pending)).position)"
            }
            print(done)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List organisations (never their credentials), with how often their profile changed.")
        @OptionGroup var db: DatabaseOptions
        @Option var format: OutputFormat = .table

        func run() {
            let (registry, changes) = oneLine { () -> (Registry, [String: (count: Int, last: RecordedEvent)]) in
                var registry = Registry()
                var changes: [String: (count: Int, last: RecordedEvent)] = [:]
                for event in try Log(db).store.read(after: 0, types: Registry.eventTypes).events {
                    try registry.apply(event)
                    let prefix = Streams.organisation("")
                    if event.type == EventType.organisationProfileChanged, event.stream.hasPrefix(prefix) {
                        let id = String(event.stream.dropFirst(prefix.count))
                        if registry.organisations[id] != nil { changes[id] = ((changes[id]?.count ?? 0) + 1, event) }
                    }
                }
                return (registry, changes)
            }
            // New columns go last: scripts reading the earlier ones by position keep working.
            var rows = Rows(columns: [
                "id", "name", "type", "leadership", "level", "country", "credentials", "profile_changes",
                "profile_changed_at", "profile_changed_position",
            ])
            for organisation in registry.organisations.values.sorted(by: { $0.id < $1.id }) {
                let change = changes[organisation.id]
                rows.append([
                    .string(organisation.id), .string(organisation.name), .string(organisation.type),
                    .string(organisation.leadership.joined(separator: ",")), .string(organisation.level),
                    .string(organisation.country), .number(String(registry.credentials[organisation.id]?.count ?? 0)),
                    .number(String(change?.count ?? 0)),
                    change.map { .string(Timestamps.format($0.last.recordedAt)) } ?? .null,
                    change.map { .number(String($0.last.position)) } ?? .null,
                ])
            }
            print(rows.render(format), terminator: "")
        }
    }

    struct RotateCredential: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new credential and revoke the old ones (print the new one, once).")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Flag(help: "Keep the old credentials valid (revoke them later with `org revoke`).") var keepOld = false

        func run() {
            let token = Credentials.newToken()
            let credential = oneLine { () -> String in
                let log = Log(db)
                let (credential, events) = try Commands.rotateCredential(
                    of: id, tokenHash: Credentials.hash(token), keepOld: keepOld, registry: try log.registry(),
                    stream: try log.state(of: Streams.organisation(id))
                ).get()
                _ = try log.append(.success(events))
                return credential
            }
            print("credential \(credential) for \(id): \(token)")
            print("Give this token to the organisation now: it is not stored and cannot be shown again.")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an organisation's credentials (all, or one).")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Option(help: "Only this credential (e.g. k2).") var credential: String?

        func run() {
            let revoked = oneLine { () -> [String] in
                let log = Log(db)
                let (revoked, events) = try Commands.revoke(
                    of: id, credential: credential, registry: try log.registry(), version: try log.version(of: Streams.organisation(id))
                ).get()
                _ = try log.append(.success(events))
                return revoked
            }
            print("revoked \(revoked.joined(separator: ", ")) of \(id); open connections keep their session until they close")
        }
    }
}

struct ConsultationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consultation", abstract: "Open, close and list consultations.",
        subcommands: [Open.self, Name.self, Close.self, List.self])

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a consultation with its population baseline.")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Option var title: String
        @Option var convener: String
        @Option(help: "ISO 8601, e.g. 2027-01-10T00:00:00Z (default: now).") var opensAt: String?
        @Option(help: "ISO 8601.") var closesAt: String
        @Option(help: "Comma-separated: design, implementation, monitoring, evaluation.") var stages: String
        @Option(help: "Comma-separated BCP 47 tags.") var languages: String
        @Option(help: #"JSON: {"dimension": {"group": share, ...}, ...}; each dimension's shares sum to 1."#)
        var baseline: String
        @Option(help: #"JSON: names for group codes in reports, {"dimension": {"group": "name", ...}, ...} (optional)."#)
        var labels: String?
        @Option(help: ArgumentHelp(
            #"JSON: names by language for reports, {"fr": {"title": "…", "convener": "…", "dimensions": {"age": "âge"}, "groups": {"age": {"0-17": "enfants"}}}, "ar": {…}} (optional)."#,
            discussion: "Codes nobody names get CLDR's names where they are ISO 3166 countries or BCP 47 languages."))
        var names: String?

        func run() {
            oneLine {
                let opens = try opensAt.map { try Self.date($0, "opens_at") } ?? Date()
                let consultation = Consultation(
                    id: id, title: title, convener: convener, opensAt: opens, closesAt: try Self.date(closesAt, "closes_at"),
                    stages: list(stages), languages: list(languages), baseline: try Self.baseline(baseline),
                    labels: try labels.map(Self.labels) ?? [:], names: try names.map(Name.book) ?? NameBook())
                let log = Log(db)
                let appended = try log.append(Commands.open(consultation, registry: try log.registry()))
                print("opened \(id) at position \(appended.position)")
            }
        }

        static func date(_ text: String, _ field: String) throws -> Date {
            guard let date = Timestamps.parse(text) else { throw DomainError(.invalid, field: field, "an ISO 8601 time such as 2027-01-10T00:00:00Z") }
            return date
        }

        static func labels(_ text: String) throws -> [String: [String: String]] {
            guard case .object(let dimensions)? = try? JSONParser().parse(text) else {
                throw DomainError(.invalid, field: "labels", #"a JSON object such as {"nationality": {"SYR": "Syrian"}}"#)
            }
            var result: [String: [String: String]] = [:]
            for (dimension, names) in dimensions {
                guard case .object(let pairs) = names else { throw DomainError(.invalid, field: "labels.\(dimension)", "an object of names") }
                for (group, name) in pairs {
                    guard let text = name.stringValue else { throw DomainError(.invalid, field: "labels.\(dimension).\(group)", "a string") }
                    result[dimension, default: [:]][group] = text
                }
            }
            return result
        }

        static func baseline(_ text: String) throws -> [String: [String: Double]] {
            guard case .object(let dimensions)? = try? JSONParser().parse(text) else {
                throw DomainError(.invalid, field: "baseline", #"a JSON object such as {"gender": {"female": 0.5, "male": 0.5}}"#)
            }
            var result: [String: [String: Double]] = [:]
            for (dimension, groups) in dimensions {
                guard case .object(let shares) = groups else { throw DomainError(.invalid, field: "baseline.\(dimension)", "an object of shares") }
                var values: [String: Double] = [:]
                for (group, share) in shares {
                    guard case .number(let number) = share, let value = Double(number) else {
                        throw DomainError(.invalid, field: "baseline.\(dimension).\(group)", "a number")
                    }
                    values[group] = value
                }
                result[dimension] = values
            }
            return result
        }
    }

    struct Name: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Name a consultation's title, convener, dimensions or groups in more languages, for reports.",
            discussion: """
                Records ConsultationNamed: a name given here replaces an earlier one for the same thing in the same
                language; names not given are kept. Writes nothing when the consultation already has every name given.
                """)
        @OptionGroup var db: DatabaseOptions
        @Option var id: String
        @Option(help: #"JSON: {"fr": {"title": "…", "convener": "…", "dimensions": {"age": "âge"}, "groups": {"age": {"0-17": "enfants"}}}, …}"#)
        var names: String

        func run() {
            let done = oneLine { () -> String in
                let book = try Self.book(names)
                let log = Log(db)
                let decided = Commands.name(id, book, registry: try log.registry(), stream: try log.state(of: Streams.consultation(id)))
                let languages = book.languages.keys.sorted().joined(separator: ", ")
                guard let pending = try decided.get() else { return "\(id) already has these names in \(languages); nothing written" }
                return "named \(id) in \(languages) at position \(try log.append(.success(pending)).position)"
            }
            print(done)
        }

        static func book(_ text: String) throws -> NameBook {
            guard let json = try? JSONParser().parse(text) else {
                throw DomainError(.invalid, field: "names", #"JSON such as {"fr": {"title": "…", "groups": {"age": {"0-17": "enfants"}}}}"#)
            }
            return try NameBook(json: json, field: "names")
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a consultation now, before its closes_at.")
        @OptionGroup var db: DatabaseOptions
        @Option var id: String

        func run() {
            oneLine {
                let log = Log(db)
                let appended = try log.append(
                    Commands.close(id, at: Date(), registry: try log.registry(), version: try log.version(of: Streams.consultation(id))))
                print("closed \(id) at position \(appended.position)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List consultations.")
        @OptionGroup var db: DatabaseOptions
        @Option var format: OutputFormat = .table

        func run() {
            let registry = oneLine { try Log(db).registry() }
            let now = Date()
            var rows = Rows(columns: ["id", "title", "convener", "opens_at", "closes_at", "state", "stages", "languages", "dimensions"])
            for consultation in registry.consultations.values.sorted(by: { $0.id < $1.id }) {
                rows.append([
                    .string(consultation.id), .string(consultation.title), .string(consultation.convener),
                    .string(Timestamps.format(consultation.opensAt)), .string(Timestamps.format(consultation.closesAt)),
                    .string(consultation.isOpen(at: now) ? "open" : consultation.opensAt > now ? "not yet open" : "closed"),
                    .string(consultation.stages.joined(separator: ",")), .string(consultation.languages.joined(separator: ",")),
                    .string(consultation.dimensions.joined(separator: ",")),
                ])
            }
            print(rows.render(format), terminator: "")
        }
    }
}

struct Feedback: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record feedback to one submission (sealed under the master key).")
    @OptionGroup var db: DatabaseOptions
    @OptionGroup var keys: MasterKeyOptions
    @Option var consultation: String
    @Option var organisation: String
    @Option var key: String
    @Option var text: String

    func run() {
        oneLine {
            let log = Log(db, keys: keys)
            let id = SubmissionKey(organisation: organisation, consultation: consultation, key: key)
            let appended = try log.append(Commands.giveFeedback(to: id, text: text, submission: try log.state(of: Streams.submission(id))))
            print("feedback recorded at position \(appended.position)")
        }
    }
}

struct Outcome: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a consultation's outcome and the submissions it cites (a later one replaces it).")
    @OptionGroup var db: DatabaseOptions
    @Option var consultation: String
    @Option var summary: String
    @Option(help: "A cited submission as ORGANISATION/KEY; repeat for each.") var cite: [String] = []

    func run() {
        oneLine {
            let log = Log(db)
            let decided = try Commands.publishOutcome(
                of: consultation, summary: summary, cites: cite, registry: try log.registry(),
                version: try log.version(of: Streams.consultation(consultation))
            ) { id in try log.store.read(stream: Streams.submission(id)).contains { $0.type == EventType.submissionReceived } }
            let appended = try log.append(decided)
            print("outcome published at position \(appended.position), citing \(cite.count) submissions")
        }
    }
}
