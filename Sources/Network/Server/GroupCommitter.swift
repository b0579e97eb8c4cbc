import Domain
import EventLog
import EventRecords
import Foundation
import Logging
import Observability
import PostgresClient
import Vault

/// What became of one write. The committer knows outcomes; the connection words the replies.
enum WriteOutcome: Equatable, Sendable {
    /// Stored at `position`, now or by an earlier request with the same key and content.
    case stored(position: Int64)
    /// The key already holds different content, stored at `position`.
    case conflict(position: Int64)
    /// A withdrawal of a submission that does not exist.
    case noSubmission
    /// Refused by the domain's rules at commit time: no such consultation, not open now (and nothing
    /// was stored under this key before), or the body does not fit the consultation.
    case refusedByRules(DomainError)
    /// The database refused the content itself (SQLSTATE class 22).
    case refused(message: String)
    /// The database is unreachable or did not answer in time, or the queue is full: nothing stored.
    case busy
    case shuttingDown
    case failed
}

/// One SUBMIT or WITHDRAW on its way to the log.
struct WriteRequest: Sendable {
    enum Kind: Sendable {
        /// A submission, with what the checks against its consultation need (its body passed `shape`).
        case submit(SubmissionRules.Shape)
        case withdraw
    }

    let kind: Kind
    let consultation: String
    /// The event to append if the request passes the checks against the consultation. Built (and
    /// serialised) on the connection's queue, so the committer, which everyone waits on, does not.
    let event: NewEvent
    /// Bytes this request holds while queued (counted against the daemon's queue budget).
    let cost: Int
    /// Told the outcome once it is known (committed or not), with the request's `sequence`.
    let owner: WriteOwner
    let sequence: Int
    /// When the client must have its answer (monotonic seconds, `ClientConnection.now()`): a request
    /// still queued then is dropped, unstored, and answered BUSY (its connection has answered it
    /// already). A request in a batch under way at its deadline is committed or not: its outcome is
    /// unknown to the client, which retries with the same key to learn it.
    var deadline: Double = .infinity
}

/// Whoever sent writes: told their outcomes together, once per batch (one wake-up, one socket write).
protocol WriteOwner: AnyObject, Sendable {
    /// Called from the committer's thread, with outcomes in the order the writes were queued.
    func writesFinished(_ outcomes: [(sequence: Int, outcome: WriteOutcome)])
}

/// Group commit: writes from all connections are gathered into one transaction, bounded in count
/// and bytes, and each is answered only after that transaction committed. Appends to the log
/// serialise on its lock anyway (the price of gap-free reading); batching pays that price once per
/// batch. The queue is bounded in bytes for the whole daemon: beyond it, `BUSY`.
///
/// `@unchecked Sendable`: the queue and its counters are guarded by `condition`; the database
/// session and the registry catch-up are used by the committer's own thread only.
final class GroupCommitter: @unchecked Sendable {
    private let config: ServerConfig
    private let registry: SharedRegistry
    private let vault: Vault
    private let session: DatabaseSession
    private let logger: Logger
    private let metrics: DaemonMetrics?
    private let condition = NSCondition()
    private var queue: [WriteRequest] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(config: ServerConfig, registry: SharedRegistry, vault: Vault, logger: Logger, metrics: DaemonMetrics?, watch: FailoverWatch? = nil) {
        self.config = config
        self.metrics = metrics
        self.registry = registry
        self.vault = vault
        self.logger = logger
        self.session = DatabaseSession(conninfo: config.conninfo, timeout: config.databaseTimeout, logger: logger, watch: watch)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "consultd.committer"
        thread.start()
    }

    /// Queues a write; returns why not when it cannot be queued (answer that at once).
    func enqueue(_ request: WriteRequest) -> WriteOutcome? {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return .shuttingDown }
        let waiting = queue.count - queueHead
        guard waiting < config.maxQueuedSubmissions, waiting == 0 || queuedBytes + request.cost <= config.maxQueuedBytes else {
            return .busy
        }
        queue.append(request)
        queuedBytes += request.cost
        condition.signal()
        return nil
    }

    /// Bytes of writes queued and not yet taken into a batch.
    var queuedBytesNow: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedBytes
    }

    /// Stops taking writes, commits what is queued, and returns when done or after `timeout`.
    func stop(timeout: Double) {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        _ = finished.wait(timeout: .now() + timeout)
    }

    /// The next batch (nil: stopping), and the requests dropped because their deadline passed while
    /// they waited (for the committer's previous batch, stuck in a frozen database).
    private func nextBatch() -> (batch: [WriteRequest], expired: [WriteRequest])? {
        condition.lock()
        defer { condition.unlock() }
        while queue.count == queueHead {
            if stopping { return nil }
            condition.wait()
        }
        if config.batchWait > 0, queue.count - queueHead < config.batchSize {
            _ = condition.wait(until: Date().addingTimeInterval(config.batchWait))
        }
        let now = Self.now()
        var batch: [WriteRequest] = []
        var expired: [WriteRequest] = []
        var end = queueHead
        var bytes = 0
        var taken = 0
        while end < queue.count && batch.count < config.batchSize && (batch.isEmpty || bytes + queue[end].cost <= config.maxBatchBytes) {
            taken += queue[end].cost
            if queue[end].deadline <= now {
                expired.append(queue[end])
            } else {
                bytes += queue[end].cost
                batch.append(queue[end])
            }
            end += 1
        }
        queueHead = end
        queuedBytes -= taken
        // Taken requests hold their events (and their connections) until dropped from the array.
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: queue.count <= 4_096)
            queueHead = 0
        } else if queueHead > 4_096 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return (batch, expired)
    }

    /// Monotonic seconds, the clock of `WriteRequest.deadline`.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func run() {
        while let (batch, expired) = nextBatch() {
            if !expired.isEmpty { answer(expired, [WriteOutcome?](repeating: .busy, count: expired.count)) }
            if !batch.isEmpty { commit(batch) }
        }
        session.close()
        finished.signal()
    }

    private func commit(_ batch: [WriteRequest]) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { metrics?.batch(size: batch.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
        var outcomes = [WriteOutcome?](repeating: nil, count: batch.count)
        do {
            try session.with { store in
                // Decided against the registry the follower keeps; the append refuses the batch if a
                // consultation or organisation event came after it, and then it is decided again.
                var current = registry.snapshot
                var fresh = false
                while true {
                    do {
                        return try decideAndAppend(batch, registry: current, fresh: fresh, outcomes: &outcomes, store: store)
                    } catch is EventStore.RegistryMoved {
                        current = try registry.catchUp(store)
                        fresh = true
                    }
                }
            }
            // OK only for what survives the loss of this database: a COMMIT whose wait for the
            // synchronous standby was cut off (its session closed at the call timeout, then its
            // backend terminated) is visible here without being on the standby; so is a retry's
            // event stored by such a COMMIT. Under synchronous replication each commit waited
            // already: one look answers.
            if outcomes.contains(where: { if case .stored? = $0 { return true } else { return false } }) {
                let wait = max(0, min(config.databaseTimeout, (batch.map(\.deadline).min() ?? .infinity) - Self.now()))
                let required = config.requireSynchronousStandby
                var confirmed = false
                do {
                    confirmed = try session.with { try SynchronousStandby.waitUntilConfirmed($0.connection, required: required, timeout: wait) }
                } catch is DatabaseSession.Unavailable {
                } catch {
                    // Not known to be confirmed, whatever the reason (a missing privilege, say): BUSY.
                    logger.error("cannot read the synchronous standby's position", metadata: Self.describe(error))
                }
                if !confirmed {
                    logger.warning("batch committed but not confirmed by the synchronous standby: answered BUSY", metadata: ["size": "\(batch.count)"])
                    for index in outcomes.indices { if case .stored? = outcomes[index] { outcomes[index] = .busy } }
                }
            }
        } catch is DatabaseSession.Unavailable {
            // Nothing of this batch is known to be committed (or confirmed by the standby); if a
            // COMMIT was lost in flight it may have been, and a retry of the same key then returns
            // the stored position (once confirmed).
            for index in outcomes.indices { if case .stored? = outcomes[index] { outcomes[index] = .busy } }
        } catch {
            logger.error("batch failed", metadata: Self.describe(error).merging(["size": "\(batch.count)"]) { $1 })
            for index in outcomes.indices where outcomes[index] == nil { outcomes[index] = .failed }
        }
        answer(batch, outcomes)
    }

    /// Tells each owner its writes' outcomes, once per owner (nil: BUSY, nothing known to be stored).
    private func answer(_ batch: [WriteRequest], _ outcomes: [WriteOutcome?]) {
        var byOwner: [ObjectIdentifier: [(sequence: Int, outcome: WriteOutcome)]] = [:]
        var owners: [WriteOwner] = []
        for (request, outcome) in zip(batch, outcomes) {
            let id = ObjectIdentifier(request.owner)
            if byOwner[id] == nil { owners.append(request.owner) }
            byOwner[id, default: []].append((request.sequence, outcome ?? .busy))
        }
        for owner in owners { owner.writesFinished(byOwner[ObjectIdentifier(owner)]!) }
    }

    /// Admits each write against `current`, seals and appends the admitted ones, and fills in
    /// `outcomes`. Throws `RegistryMoved` (nothing stored) when `current` is out of date, or when it
    /// refused a write and was not `fresh` (read from the database for this batch): a consultation
    /// opened a moment ago may not have reached the follower yet.
    private func decideAndAppend(
        _ batch: [WriteRequest], registry current: Registry, fresh: Bool, outcomes: inout [WriteOutcome?], store: EventStore
    ) throws {
        var events: [NewEvent] = []
        var owners: [Int] = []
        var closed: [(index: Int, refusal: DomainError)] = []
        for (index, request) in batch.enumerated() {
            switch admit(request, registry: current, now: Date()) {
            case nil:
                events.append(request.event)
                owners.append(index)
            case let refusal? where refusal.kind == .closed:
                closed.append((index, refusal))
            case let refusal?:
                outcomes[index] = .refusedByRules(refusal)
            }
        }
        if !fresh && events.count < batch.count { throw EventStore.RegistryMoved() }
        // Sealed here, on one thread, so that an organisation's data key is made once.
        let sealed = try vault.seal(events, store.connection)
        let appended = try append(sealed, registryAsOf: current.position, store: store)
        for (owner, outcome) in zip(owners, appended) { outcomes[owner] = self.outcome(of: outcome) }
        // A taken key is a retry if the stored event is this one. Compared all at once: one look per
        // request would put a round trip per resent submission on the thread every connection waits on.
        let taken = owners.compactMap { owner -> (owner: Int, position: Int64)? in
            guard case .conflict(let position)? = outcomes[owner] else { return nil }
            return (owner, position)
        }
        let retries = try sameSealed(taken.map { batch[$0.owner].event }, at: taken.map(\.position), store: store)
        for ((owner, position), same) in zip(taken, retries) where same { outcomes[owner] = .stored(position: position) }
        // A retry of a write stored before the consultation closed still learns its position.
        for (index, refusal) in closed {
            outcomes[index] = try earlier(batch[index].event, store: store) ?? .refusedByRules(refusal)
        }
    }

    /// An error for the log without its detail: PostgreSQL's detail can quote the failing row, and
    /// submission text stays out of logs.
    static func describe(_ error: Error) -> Logger.Metadata {
        if let error = error as? VaultError { return ["error": "\(error)"] }  // never carries content or keys
        guard let error = error as? PostgresError else { return ["error": "\(type(of: error))"] }
        return ["sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.message)"]
    }

    /// nil when the request may be appended; else why not (the domain decides).
    private func admit(_ request: WriteRequest, registry: Registry, now: Date) -> DomainError? {
        let consultation = registry.consultations[request.consultation]
        switch request.kind {
        case .submit(let shape): return Commands.admit(shape, to: consultation, id: request.consultation, now: now)
        case .withdraw: return Commands.admitWithdrawal(to: consultation, id: request.consultation)
        }
    }

    /// The outcome of an event already stored under the same idempotency key, if any.
    private func earlier(_ event: NewEvent, store: EventStore) throws -> WriteOutcome? {
        guard let key = event.idempotencyKey else { return nil }
        let row = try store.connection.execute(
            """
            SELECT position, (stream = $2 AND type = $3 AND data = $4::jsonb) AS same
              FROM consult.events WHERE idempotency_key = $1
            """, [key, event.stream, event.type, event.data]
        ).first
        guard let row else { return nil }
        let position: Int64 = try row.get("position")
        if try row.get("same", as: Bool.self) { return .stored(position: position) }
        return try sameSealed([event], at: [position], store: store)[0] ? .stored(position: position) : .conflict(position: position)
    }

    /// Whether each write whose key is taken is a retry of the event stored at its position: sealed
    /// content differs at every sealing, so it is compared opened. Unsealed content was compared by
    /// the append itself.
    private func sameSealed(_ events: [NewEvent], at positions: [Int64], store: EventStore) throws -> [Bool] {
        let sealed = events.indices.filter { PersonalContent.carried(by: events[$0].type) }
        var same = [Bool](repeating: false, count: events.count)
        let answers = try vault.storedEvents(at: sealed.map { positions[$0] }, match: sealed.map { events[$0] }, store.connection)
        for (index, answer) in zip(sealed, answers) { same[index] = answer }
        return same
    }

    /// One statement and one transaction for the batch. If the database refuses one event outright (not a
    /// version or key conflict, which come back per event), each event is retried alone, so that
    /// one bad submission does not fail the others. A timeout is not retried: the database is struggling.
    private func append(
        _ sealed: [SealedEvent], registryAsOf: Int64, store: EventStore
    ) throws -> [Result<Result<Appended, AppendError>, PostgresError>] {
        do {
            return try store.append(batch: sealed.map(\.event), contentKeys: sealed.map(\.contentKey), registryAsOf: registryAsOf)
                .map { .success($0) }
        } catch let failure as PostgresError where !failure.isConnectionProblem && !failure.isTimeout {
            logger.warning("batch refused, retrying one by one", metadata: Self.describe(failure))
            // Each commits alone: if the database goes away part way, those before it are stored and
            // say so; the rest are answered BUSY (a retry of the same key finds out).
            var outcomes: [Result<Result<Appended, AppendError>, PostgresError>] = []
            for event in sealed {
                do {
                    outcomes.append(.success(.success(try store.append(event.event, contentKey: event.contentKey, registryAsOf: registryAsOf))))
                } catch let refusal as AppendError {
                    outcomes.append(.success(.failure(refusal)))
                } catch let error as PostgresError {
                    outcomes.append(.failure(error))
                    if error.isConnectionProblem || error.isTimeout { break }
                }
            }
            while outcomes.count < sealed.count {
                outcomes.append(.failure(PostgresError(.connectionLost, message: "not tried: the database went away")))
            }
            return outcomes
        }
    }

    /// The outcome of an append; a taken key is a conflict until compared with what is stored (`sameSealed`).
    private func outcome(of appended: Result<Result<Appended, AppendError>, PostgresError>) -> WriteOutcome {
        switch appended {
        case .success(.success(let appended)):
            return .stored(position: appended.position)
        case .success(.failure(.idempotencyConflict(_, let position))):
            return .conflict(position: position)
        case .success(.failure(.versionConflict)):
            return .noSubmission
        case .failure(let error):
            if error.isConnectionProblem || error.isTimeout { return .busy }
            // Class 22 is "data exception": the content itself was refused.
            if error.sqlState?.hasPrefix("22") == true { return .refused(message: error.message) }
            logger.error("append failed", metadata: Self.describe(error))
            return .failed
        }
    }
}

extension WriteOutcome {
    /// The `outcome` label of `consultd_writes_total`.
    var metric: DaemonMetrics.Outcome {
        switch self {
        case .stored: return .stored
        case .conflict: return .conflict
        case .noSubmission: return .notFound
        case .refusedByRules(let error) where error.kind == .notFound: return .notFound
        case .refusedByRules(let error) where error.kind == .conflict: return .conflict
        case .refusedByRules, .refused: return .refused
        case .busy: return .busy
        case .shuttingDown: return .shuttingDown
        case .failed: return .failed
        }
    }
}
