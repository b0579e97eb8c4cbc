import DequeModule
import Domain
import EventLog
import Foundation
import JSON
import LineProtocol
import Logging
import PostgresClient
import Trust
import Vault

/// Reads for AUTH, CONSULTATIONS and STATUS: a few threads, each with its own database session,
/// taking jobs in arrival order. Each connection sends at most `maxReadsInFlight` reads at a time
/// (its state machine holds the rest), so one client pipelining thousands of STATUS has only a few
/// jobs in the queue at any moment and everyone else's are interleaved with them: fairness by
/// construction. AUTH is answered from the registry in memory; only a credential the registry does
/// not know (maybe issued a moment ago) costs a job.
///
/// `@unchecked Sendable`: the job queue is guarded by `condition`; each session belongs to one thread.
final class ReadPool: @unchecked Sendable {
    private let registry: SharedRegistry
    private let vault: Vault
    private let config: ServerConfig
    private let logger: Logger
    private let condition = NSCondition()
    /// A job, when its client must have the answer (monotonic seconds), and how to say it is too late.
    private struct Job {
        let deadline: Double
        let run: @Sendable (DatabaseSession) -> Void
        let expire: @Sendable () -> Void
    }
    private var jobs = Deque<Job>()
    private var stopping = false
    private var running = 0
    private let allStopped = DispatchSemaphore(value: 0)

    private let watch: FailoverWatch?

    init(config: ServerConfig, registry: SharedRegistry, vault: Vault, logger: Logger, watch: FailoverWatch? = nil) {
        self.watch = watch
        self.config = config
        self.registry = registry
        self.vault = vault
        self.logger = logger
    }

    func start() {
        running = config.readers
        for index in 0..<config.readers {
            let session = DatabaseSession(conninfo: config.conninfo, timeout: config.databaseTimeout, logger: logger, watch: watch)
            let thread = Thread { [self] in
                while let job = next() { job.run(session) }
                session.close()
                condition.lock()
                running -= 1
                let last = running == 0
                condition.unlock()
                if last { allStopped.signal() }
            }
            thread.name = "consultd.reader.\(index)"
            thread.start()
        }
    }

    /// Finishes the jobs queued, then stops the threads (waiting at most `timeout`).
    func stop(timeout: Double) {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        _ = allStopped.wait(timeout: .now() + timeout)
    }

    /// Queues a job; one still queued at `deadline` is not run and `expire` is called instead (its
    /// connection has answered BUSY at that deadline already).
    private func submit(
        deadline: Double? = nil, expire: @escaping @Sendable () -> Void = {}, _ job: @escaping @Sendable (DatabaseSession) -> Void
    ) {
        condition.lock()
        jobs.append(Job(deadline: deadline ?? .infinity, run: job, expire: expire))
        condition.signal()
        condition.unlock()
    }

    private func next() -> Job? {
        while true {
            condition.lock()
            while jobs.isEmpty {
                if stopping {
                    condition.unlock()
                    return nil
                }
                condition.wait()
            }
            let job = jobs.removeFirst()
            condition.unlock()
            // Waiting behind reads stuck in a frozen database, it outlived its deadline: skip it.
            guard job.deadline <= GroupCommitter.now() else { return job }
            job.expire()
        }
    }

    private static let tooLate = Reply.error(.busy, "database unavailable or too slow; retry later")

    /// The registry caught up with the log, so that a credential issued or a consultation opened a
    /// moment ago is known; as it stands when the database is away.
    private func fresh(_ session: DatabaseSession) -> Registry {
        (try? session.with { try registry.catchUp($0) }) ?? registry.snapshot
    }

    /// Whether `token` is a live credential of `organisation`; `done` may run on the caller's thread.
    func authenticate(organisation: String, token: String, _ done: @escaping @Sendable (Bool) -> Void) {
        if registry.snapshot.authenticate(organisation: organisation, token: token) { return done(true) }
        submit { [self] session in
            done(fresh(session).authenticate(organisation: organisation, token: token))
        }
    }

    /// AUTH without a token: valid when the connection's verified client certificate names
    /// `organisation` (`certified`) and the organisation still holds a live credential.
    func authenticate(organisation: String, certified: String?, _ done: @escaping @Sendable (Bool) -> Void) {
        guard certified == organisation else { return done(false) }
        if registry.snapshot.hasLiveCredential(organisation) { return done(true) }
        submit { [self] session in done(fresh(session).hasLiveCredential(organisation)) }
    }

    /// Opens `organisation`'s data key in the background once it has authenticated, so that its
    /// submissions are sealed on its connection's queue rather than by the committer, which every
    /// connection waits on. Once per organisation and process; a failure leaves the sealing to the
    /// committer.
    func openDataKey(for organisation: String) {
        guard !vault.hasOpenDataKey(for: organisation) else { return }
        submit(deadline: GroupCommitter.now() + config.databaseTimeout) { [vault] session in
            _ = try? session.with { try vault.openDataKey(for: organisation, $0.connection) }
        }
    }

    func consultations(deadline: Double? = nil, _ done: @escaping @Sendable (Reply) -> Void) {
        submit(deadline: deadline, expire: { done(Self.tooLate) }) { [self] session in
            let open = fresh(session).openConsultations(at: Date())
            done(.ok("CONSULTATIONS " + JSONValue.array(open.map(\.listing)).serialized))
        }
    }

    func status(organisation: String, consultation: String, key: String, deadline: Double? = nil, _ done: @escaping @Sendable (Reply) -> Void) {
        read(deadline: deadline, done) { [vault] in try Self.status($0, vault: vault, organisation: organisation, consultation: consultation, key: key) }
    }

    func receipt(organisation: String, consultation: String, key: String, deadline: Double? = nil, _ done: @escaping @Sendable (Reply) -> Void) {
        guard config.signsCheckpoints else {
            return done(.error(.notFound, "this server signs no checkpoints (it runs without a signing key), so it gives no receipts; tell its operator"))
        }
        read(deadline: deadline, done) { [config] in
            try Self.receipt($0, organisation: organisation, consultation: consultation, key: key, policy: config.witnessPolicy)
        }
    }

    /// A read job answered from the database; `BUSY` when it is unreachable or too slow.
    private func read(deadline: Double?, _ done: @escaping @Sendable (Reply) -> Void, _ body: @escaping @Sendable (EventStore) throws -> Reply) {
        submit(deadline: deadline, expire: { done(Self.tooLate) }) { session in
            do {
                done(try session.with(body))
            } catch {
                done(.error(.busy, "database unavailable or too slow; retry later"))
            }
        }
    }

    /// The organisation's own submission's receipt: its event, the latest checkpoint and the proof.
    /// With a C2SP checkpoint the JSON also carries `tlog_proof` (the receipt as a tlog-proof file)
    /// and `cosignatures` (how many of the configured witnesses cosigned it).
    private static func receipt(_ store: EventStore, organisation: String, consultation: String, key: String, policy: WitnessPolicy) throws -> Reply {
        let id = SubmissionKey(organisation: organisation, consultation: consultation, key: key)
        guard let received = try store.read(stream: Streams.submission(id)).first(where: { $0.type == EventType.submissionReceived }) else {
            return .error(.notFound, "no submission \(key) of yours in consultation \(consultation)")
        }
        guard let receipt = try TreeStore(connection: store.connection).receipt(position: received.position, policy: policy) else {
            return .error(.busy, "position \(received.position) is not in a signed checkpoint yet; retry in a few seconds")
        }
        return .ok("RECEIPT " + receipt.json.serialized)
    }

    private static func status(_ store: EventStore, vault: Vault, organisation: String, consultation: String, key: String) throws -> Reply {
        let id = SubmissionKey(organisation: organisation, consultation: consultation, key: key)
        let history = try vault.open(store.read(stream: Streams.submission(id)), store.connection)
        guard let received = history.first(where: { $0.type == EventType.submissionReceived }) else {
            return .error(.notFound, "no submission \(key) of yours in consultation \(consultation)")
        }
        let withdrawn = history.contains { $0.type == EventType.submissionWithdrawn }
        var content = "kept"
        if case .submissionReceived(let submission) = try received.decoded(), submission.text == .erased { content = "erased" }
        var feedback: [JSONValue] = []
        for event in try vault.open(store.read(stream: Streams.feedback(id)), store.connection) {
            guard case .feedbackGiven(let given) = try event.decoded() else { continue }
            feedback.append(.object([
                ("text", given.text.text.map(JSONValue.string) ?? .null), ("erased", .bool(given.text == .erased)),
                ("given_at", .string(Timestamps.format(event.recordedAt))), ("position", .number(String(event.position))),
            ]))
        }
        // The latest outcome replaces every earlier one (SPEC): only it says whether this is cited.
        let latest = try store.latest(stream: Streams.consultation(consultation), type: EventType.outcomePublished)
        var cited = JSONValue.null
        if let latest, case .outcomePublished(let outcome) = try latest.decoded() {
            cited = .bool(outcome.cites.contains(Citation(organisation: organisation, key: key)))
        }
        let body = JSONValue.object([
            ("state", .string(withdrawn ? "withdrawn" : "received")),
            ("position", .number(String(received.position))),
            ("content", .string(content)),
            ("feedback", .array(feedback)),
            ("cited_in_outcome", cited),
        ])
        return .ok("STATUS " + body.serialized)
    }
}
