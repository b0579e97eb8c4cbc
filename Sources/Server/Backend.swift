import Domain
import EventLog
import Foundation
import LineProtocol
import Logging
import PostgresClient

/// A value shared between queues and threads, guarded by a lock.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    public var current: Value { withLock { $0 } }
}

/// The registry (organisations, credentials, consultations) shared by every connection, brought up
/// to date from the log before any answer depends on it, so a consultation opened a moment ago by
/// consultctl is already known.
final class SharedRegistry: @unchecked Sendable {
    private let state = Locked(Registry())

    var snapshot: Registry { state.current }

    /// Reads the registry's events since its position over `store` (one query) and applies them.
    @discardableResult
    func catchUp(_ store: EventStore) throws -> Registry {
        let from = state.current.position
        let (events, head) = try store.read(after: from, types: Registry.eventTypes)
        return state.withLock { registry in
            for event in events { registry.apply(event) }
            registry.advance(to: head)
            return registry
        }
    }
}

/// A database connection owned by one serial worker, opened on first use and re-opened after a loss.
final class Worker {
    let conninfo: String
    let logger: Logger
    private var store: EventStore?
    private var retryAfter = Date.distantPast
    private var backoff = 0.1

    init(conninfo: String, logger: Logger) {
        self.conninfo = conninfo
        self.logger = logger
    }

    /// Runs `body` with a connection; a lost connection is dropped and retried later with backoff.
    /// Throws `Unavailable` without trying while the database is known to be down.
    func with<T>(_ body: (EventStore) throws -> T) throws -> T {
        if store == nil {
            guard Date() >= retryAfter else { throw Unavailable() }
            do {
                store = EventStore(connection: try Connection(conninfo))
                backoff = 0.1
                logger.info("database connection open")
            } catch let error as PostgresError {
                retryAfter = Date().addingTimeInterval(backoff)
                backoff = min(backoff * 2, 5)
                logger.warning("database unreachable", metadata: ["error": "\(error)"])
                throw Unavailable()
            }
        }
        do {
            return try body(store!)
        } catch let error as PostgresError where error.isConnectionProblem {
            logger.warning("database connection lost", metadata: ["error": "\(error)"])
            store = nil
            throw Unavailable()
        }
    }

    struct Unavailable: Error {}
}

/// One SUBMIT or WITHDRAW on its way to the log.
struct WriteRequest {
    enum Kind {
        case submit(JSONValue)
        case withdraw(reason: String?)
    }

    let kind: Kind
    let organisation: String
    let consultation: String
    let key: String
    /// The event to append if the request passes the checks against the consultation. Built (and
    /// serialised) on the connection's queue, so the committer, which everyone waits on, does not.
    let event: NewEvent
    /// Told the outcome once it is known (committed or not), with the request's `sequence`.
    let owner: WriteOwner
    let sequence: Int
}

/// Whoever sent writes: told their outcomes together, once per batch (one wake-up, one socket write).
protocol WriteOwner: AnyObject {
    /// Called from the committer's thread, with replies in the order the writes were queued.
    func writesFinished(_ replies: [(sequence: Int, reply: Reply)])
}

/// Group commit: writes from all connections are gathered into one transaction, bounded in size,
/// and each is answered only after that transaction committed. Appends to the log serialise on its
/// lock anyway (the price of gap-free reading); batching pays that price once per batch.
final class GroupCommitter: @unchecked Sendable {
    private let config: ServerConfig
    private let registry: SharedRegistry
    private let worker: Worker
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [WriteRequest] = []
    private var queueHead = 0
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    static let busy = Reply.error(.busy, "database unavailable or overloaded; nothing was stored, retry later")

    init(config: ServerConfig, registry: SharedRegistry, logger: Logger) {
        self.config = config
        self.registry = registry
        self.logger = logger
        self.worker = Worker(conninfo: config.conninfo, logger: logger)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "consultd.committer"
        thread.start()
        self.thread = thread
    }

    /// Queues a write; false when the queue is full (answer `BUSY`).
    func enqueue(_ request: WriteRequest) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, queue.count - queueHead < config.maxQueuedSubmissions else { return false }
        queue.append(request)
        condition.signal()
        return true
    }

    /// Stops taking writes, commits what is queued, and returns when done or after `timeout`.
    func stop(timeout: Double) {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        _ = finished.wait(timeout: .now() + timeout)
    }

    private func nextBatch() -> [WriteRequest]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.count == queueHead {
            if stopping { return nil }
            condition.wait()
        }
        if config.batchWait > 0, queue.count - queueHead < config.batchSize {
            _ = condition.wait(until: Date().addingTimeInterval(config.batchWait))
        }
        let end = min(queue.count, queueHead + config.batchSize)
        let batch = Array(queue[queueHead..<end])
        queueHead = end
        if queueHead > 4_096 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return batch
    }

    private func run() {
        while let batch = nextBatch() {
            commit(batch)
        }
        finished.signal()
    }

    private func commit(_ batch: [WriteRequest]) {
        var replies = [Reply?](repeating: nil, count: batch.count)
        do {
            try worker.with { store in
                let current = try registry.catchUp(store)
                let now = Date()
                var events: [NewEvent] = []
                var owners: [Int] = []
                for (index, request) in batch.enumerated() {
                    switch event(for: request, registry: current, now: now) {
                    case .success(let event):
                        events.append(event)
                        owners.append(index)
                    case .failure(let error):
                        replies[index] = error.reply
                    }
                }
                let outcomes = try append(events, store: store)
                for (owner, outcome) in zip(owners, outcomes) {
                    replies[owner] = reply(for: batch[owner], outcome: outcome)
                }
            }
        } catch is Worker.Unavailable {
            // Nothing of this batch is known to be committed; if a COMMIT was lost in flight it may
            // have been, and a retry of the same key then returns the stored position.
        } catch {
            logger.error("batch failed", metadata: Self.describe(error).merging(["size": "\(batch.count)"]) { $1 })
            for index in replies.indices where replies[index] == nil {
                replies[index] = .error(.internal, "the server could not store this; nothing was stored, retry later")
            }
        }
        var byOwner: [ObjectIdentifier: [(sequence: Int, reply: Reply)]] = [:]
        var owners: [WriteOwner] = []
        for (request, reply) in zip(batch, replies) {
            let id = ObjectIdentifier(request.owner)
            if byOwner[id] == nil { owners.append(request.owner) }
            byOwner[id, default: []].append((request.sequence, reply ?? Self.busy))
        }
        for owner in owners { owner.writesFinished(byOwner[ObjectIdentifier(owner)]!) }
    }

    /// An error for the log without its detail: PostgreSQL's detail can quote the failing row, and
    /// submission text stays out of logs.
    static func describe(_ error: Error) -> Logger.Metadata {
        guard let error = error as? PostgresError else { return ["error": "\(type(of: error))"] }
        return ["sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.message)"]
    }

    private func event(for request: WriteRequest, registry: Registry, now: Date) -> Result<NewEvent, RequestError> {
        guard let consultation = registry.consultations[request.consultation] else {
            return .failure(RequestError(.notFound, "no consultation \(request.consultation)"))
        }
        // A withdrawal needs only the consultation to exist; a submission, that it is open and the body fits it.
        if case .submit(let body) = request.kind {
            guard consultation.isOpen(at: now) else {
                return .failure(RequestError(.closed, "consultation \(consultation.id) is not open for submissions now"))
            }
            if let error = SubmissionRules.validate(body, for: consultation) { return .failure(error) }
        }
        return .success(request.event)
    }

    /// One statement and one transaction for the batch. If the database refuses one event outright (not a
    /// version or key conflict, which come back per event), each event is retried alone, so that
    /// one bad submission does not fail the others.
    private func append(_ events: [NewEvent], store: EventStore) throws -> [Result<Result<Appended, AppendError>, PostgresError>] {
        do {
            return try store.append(batch: events).map { .success($0) }
        } catch let failure as PostgresError where !failure.isConnectionProblem {
            logger.warning("batch refused, retrying one by one", metadata: Self.describe(failure))
            return try events.map { event in
                do {
                    return .success(.success(try store.append(event)))
                } catch let refusal as AppendError {
                    return .success(.failure(refusal))
                } catch let error as PostgresError where !error.isConnectionProblem {
                    return .failure(error)
                }
            }
        }
    }

    private func reply(for request: WriteRequest, outcome: Result<Result<Appended, AppendError>, PostgresError>) -> Reply {
        let verb: String
        switch request.kind {
        case .submit: verb = "SUBMIT"
        case .withdraw: verb = "WITHDRAW"
        }
        switch outcome {
        case .success(.success(let appended)):
            return .ok("\(verb) \(request.key) \(appended.position)")
        case .success(.failure(.idempotencyConflict(_, let position))):
            if case .submit = request.kind {
                return .error(.conflict, "key \(request.key) already holds a different submission (position \(position))")
            }
            return .error(.conflict, "submission \(request.key) was already withdrawn with another reason (position \(position))")
        case .success(.failure(.versionConflict)):
            return .error(.notFound, "no submission \(request.key) of yours in consultation \(request.consultation)")
        case .failure(let error):
            // Class 22 is "data exception": the content itself was refused.
            if error.sqlState?.hasPrefix("22") == true {
                return .error(.invalid, "body: refused by the database (\(error.message))")
            }
            logger.error("append failed", metadata: Self.describe(error))
            return .error(.internal, "the server could not store this; nothing was stored")
        }
    }
}

/// Reads for AUTH, CONSULTATIONS and STATUS, on their own connection and serial queue, so they
/// never wait behind a batch commit.
final class Reader: @unchecked Sendable {
    private let queue = DispatchQueue(label: "consultd.reader")
    private let registry: SharedRegistry
    private let worker: Worker

    init(config: ServerConfig, registry: SharedRegistry, logger: Logger) {
        self.registry = registry
        self.worker = Worker(conninfo: config.conninfo, logger: logger)
    }

    /// The registry, caught up with the log if the database can be reached (else as it stands).
    private func freshRegistry() -> Registry {
        (try? worker.with { try registry.catchUp($0) }) ?? registry.snapshot
    }

    func authenticate(organisation: String, token: String, _ done: @escaping (Bool) -> Void) {
        queue.async { [self] in
            done(freshRegistry().authenticate(organisation: organisation, token: token))
        }
    }

    func consultations(_ done: @escaping (Reply) -> Void) {
        queue.async { [self] in
            let open = freshRegistry().openConsultations(at: Date())
            done(.ok("CONSULTATIONS " + JSONValue.array(open.map(\.listing)).serialized))
        }
    }

    func status(organisation: String, consultation: String, key: String, _ done: @escaping (Reply) -> Void) {
        queue.async { [self] in
            do {
                let reply = try worker.with { store in
                    try status(store, organisation: organisation, consultation: consultation, key: key)
                }
                done(reply)
            } catch {
                done(GroupCommitter.busy)
            }
        }
    }

    private func status(_ store: EventStore, organisation: String, consultation: String, key: String) throws -> Reply {
        let submissionStream = Streams.submission(organisation: organisation, consultation: consultation, key: key)
        let history = try store.read(stream: submissionStream)
        guard let received = history.first(where: { $0.type == EventType.submissionReceived }) else {
            return .error(.notFound, "no submission \(key) of yours in consultation \(consultation)")
        }
        let withdrawn = history.contains { $0.type == EventType.submissionWithdrawn }
        let parser = JSONParser.eventData
        let feedback = try store.read(stream: Streams.feedback(organisation: organisation, consultation: consultation, key: key))
            .filter { $0.type == EventType.feedbackGiven }
            .map { event -> JSONValue in
                let text = (try? parser.parse(event.data))?["text"] ?? .null
                return .object([
                    ("text", text), ("given_at", .string(Timestamps.format(event.recordedAt))),
                    ("position", .number(String(event.position))),
                ])
            }
        let citation = JSONValue.array([.object([("organisation", .string(organisation)), ("key", .string(key))])]).serialized
        let cited = try store.connection.execute(
            """
            SELECT coalesce(bool_or(data->'cites' @> $2::jsonb), false) AS cited, count(*) AS outcomes
              FROM consult.events WHERE stream = $1 AND type = $3
            """, [Streams.consultation(consultation), JSONText(citation), EventType.outcomePublished]
        ).first
        let outcomes: Int = try cited?.get("outcomes") ?? 0
        let isCited: Bool = try cited?.get("cited") ?? false
        let body = JSONValue.object([
            ("state", .string(withdrawn ? "withdrawn" : "received")),
            ("position", .number(String(received.position))),
            ("feedback", .array(feedback)),
            ("cited_in_outcome", outcomes == 0 ? .null : .bool(isCited)),
        ])
        return .ok("STATUS " + body.serialized)
    }
}
