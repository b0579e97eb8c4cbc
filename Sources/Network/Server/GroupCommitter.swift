import DequeModule
import EventLog
import Foundation
import LogWriter
import Logging
import Observability
import PostgresClient
import Vault
import WriteDecision

/// One SUBMIT or WITHDRAW on its way to the log.
struct WriteRequest: Sendable {
    /// The write, its shape checked, with its event (built and serialised on the connection's queue,
    /// so that the committer, which everyone waits on, does not).
    let write: PreparedWrite
    /// The event sealed on the connection's queue, when its organisation's data key was open
    /// already; nil: the committer seals it.
    let sealed: SealedEvent?
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
    private let writer: LogWriter
    private let session: DatabaseSession
    private let logger: Logger
    private let metrics: DaemonMetrics?
    private let condition = NSCondition()
    private var queue = Deque<WriteRequest>()
    private var queuedBytes = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(config: ServerConfig, registry: SharedRegistry, writer: LogWriter, logger: Logger, metrics: DaemonMetrics?, watch: FailoverWatch? = nil) {
        self.config = config
        self.metrics = metrics
        self.registry = registry
        self.writer = writer
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
        guard queue.count < config.maxQueuedSubmissions, queue.isEmpty || queuedBytes + request.cost <= config.maxQueuedBytes else {
            return .busy
        }
        queue.append(request)
        queuedBytes += request.cost
        condition.signal()
        return nil
    }

    /// Bytes of writes queued and not yet taken into a batch.
    var queuedBytesNow: Int { condition.withLock { queuedBytes } }

    /// Stops taking writes, commits what is queued, and returns when done or after `timeout`.
    func stop(timeout: Double) {
        condition.withLock {
            stopping = true
            condition.signal()
        }
        _ = finished.wait(timeout: .now() + timeout)
    }

    /// The next batch (nil: stopping), and the requests dropped because their deadline passed while
    /// they waited (for the committer's previous batch, stuck in a frozen database). With `onlyFull`
    /// it does not wait, and takes a batch only if a full one is queued: one taken early would leave
    /// out the writes that arrive meanwhile, which then wait a whole batch longer.
    private func nextBatch(onlyFull: Bool = false) -> (batch: [WriteRequest], expired: [WriteRequest])? {
        condition.lock()
        defer { condition.unlock() }
        if onlyFull && queue.count < config.batchSize && queuedBytes < config.maxBatchBytes { return nil }
        while queue.isEmpty {
            if stopping { return nil }
            condition.wait()
        }
        if config.batchWait > 0, queue.count < config.batchSize {
            _ = condition.wait(until: Date().addingTimeInterval(config.batchWait))
        }
        let now = Self.now()
        var batch: [WriteRequest] = []
        var expired: [WriteRequest] = []
        var bytes = 0
        while let next = queue.first, batch.count < config.batchSize, batch.isEmpty || bytes + next.cost <= config.maxBatchBytes {
            queue.removeFirst()
            queuedBytes -= next.cost
            if next.deadline <= now {
                expired.append(next)
            } else {
                bytes += next.cost
                batch.append(next)
            }
        }
        return (batch, expired)
    }

    /// Monotonic seconds, the clock of `WriteRequest.deadline`.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// A batch taken from the queue, its decision started and, when that is an append whose events
    /// are all sealed, its statement encoded. Under load (a full batch queued) the next batch is
    /// planned while the database appends the one before (`perform(.append)`), so that the
    /// committer's own work is off the path every write waits on. Batches still go to the database
    /// one at a time, in order.
    private struct Planned {
        let batch: [WriteRequest]
        var decision: BatchDecision
        let first: BatchDecision.Action
        var encoded: LogWriter.EncodedBatch?
    }

    /// The batch planned while the last was appended (nil: none).
    private var ahead: Planned?

    private func run() {
        while true {
            let planned: Planned
            if let next = ahead {
                ahead = nil
                planned = next
            } else {
                guard let (batch, expired) = nextBatch() else { break }
                answerBusy(expired)
                if batch.isEmpty { continue }
                planned = plan(batch, encode: false)
            }
            commit(stillDue(planned))
        }
        session.close()
        finished.signal()
    }

    private func plan(_ batch: [WriteRequest], encode: Bool) -> Planned {
        var decision = BatchDecision(batch.map(\.write), registry: registry.snapshot, now: Date())
        let first = decision.start()
        var encoded: LogWriter.EncodedBatch?
        if encode, case .append(let writes, let registryAsOf) = first, writes.allSatisfy({ batch[$0].sealed != nil }) {
            encoded = writer.encode(writes.map { batch[$0].sealed! }, registryAsOf: registryAsOf)
        }
        return Planned(batch: batch, decision: decision, first: first, encoded: encoded)
    }

    /// A batch planned ahead waited for the one before, which may have been stuck: those of its
    /// requests past their deadline are answered BUSY (their connections have said so already)
    /// and the rest planned again.
    private func stillDue(_ planned: Planned) -> Planned {
        let now = Self.now()
        guard planned.batch.contains(where: { $0.deadline <= now }) else { return planned }
        let expired = planned.batch.filter { $0.deadline <= now }
        answerBusy(expired)
        return plan(planned.batch.filter { $0.deadline > now }, encode: false)
    }

    /// Decides, appends and answers one batch: performs each action `BatchDecision` returns until
    /// it says what to answer.
    private func commit(_ planned: Planned) {
        let batch = planned.batch
        guard !batch.isEmpty else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { metrics?.batch(size: batch.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
        var decision = planned.decision
        var action = planned.first
        var encoded = planned.encoded
        while true {
            if case .answer(let outcomes) = action { return answer(batch, outcomes) }
            do {
                action = try session.with { store in try perform(action, &decision, batch: batch, encoded: &encoded, store: store) }
            } catch is DatabaseSession.Unavailable {
                action = decision.failed(.unavailable)
            } catch {
                logger.error("batch failed", metadata: LogWriter.describe(error).merging(["size": "\(batch.count)"]) { $1 })
                action = decision.failed(.failed)
            }
        }
    }

    /// Performs one action against the database and returns the decision's next. `encoded` is the
    /// first append's statement, if it was encoded ahead; any later append (after the registry
    /// moved) is encoded afresh.
    private func perform(
        _ action: BatchDecision.Action, _ decision: inout BatchDecision, batch: [WriteRequest], encoded: inout LogWriter.EncodedBatch?,
        store: EventStore
    ) throws -> BatchDecision.Action {
        switch action {
        case .append(let writes, let registryAsOf):
            var statement = try encoded ?? writer.encode(
                writer.seal(writes.map { (batch[$0].write.event, batch[$0].sealed) }, store.connection), registryAsOf: registryAsOf)
            encoded = nil
            try writer.send(&statement, store: store)
            // While the database appends this batch, plan the next if a full one waits (its requests
            // leave the queue's byte count now: one batch, at most --max-batch-bytes, is held beyond it).
            if statement.sent, ahead == nil, let (next, expired) = nextBatch(onlyFull: true) {
                answerBusy(expired)
                if !next.isEmpty { ahead = plan(next, encode: true) }
            }
            do {
                return decision.appended(try writer.receive(statement, store: store))
            } catch is EventStore.RegistryMoved {
                return decision.registryMoved()
            }
        case .catchUpRegistry:
            return decision.registryCaughtUp(try registry.catchUp(store))
        case .compare(let comparisons):
            // All at once: one look per request would put a round trip per resent submission on the
            // thread every connection waits on.
            return decision.compared(
                try writer.matches(comparisons.map { batch[$0.write].write.event }, storedAt: comparisons.map(\.position), store: store))
        case .findEarlier(let writes):
            return decision.foundEarlier(try writer.earlier(writes.map { batch[$0].write.event }, store: store))
        case .confirmStandby:
            return decision.confirmed(try confirmedByStandby(batch, store: store))
        case .answer:
            preconditionFailure("an answer is not performed")
        }
    }

    /// OK only for what survives the loss of this database: a COMMIT whose wait for the synchronous
    /// standby was cut off (its session closed at the call timeout, then its backend terminated) is
    /// visible here without being on the standby; so is a retry's event stored by such a COMMIT.
    /// Under synchronous replication each commit waited already: one look answers.
    private func confirmedByStandby(_ batch: [WriteRequest], store: EventStore) throws -> Bool {
        let wait = max(0, min(config.databaseTimeout, (batch.map(\.deadline).min() ?? .infinity) - Self.now()))
        do {
            if try SynchronousStandby.waitUntilConfirmed(store.connection, required: config.requireSynchronousStandby, timeout: wait) {
                return true
            }
        } catch let error as PostgresError where error.isConnectionProblem || error.isTimeout {
            throw error  // the session's to handle: the batch is then answered BUSY
        } catch {
            // Not known to be confirmed, whatever the reason (a missing privilege, say): BUSY.
            logger.error("cannot read the synchronous standby's position", metadata: LogWriter.describe(error))
        }
        logger.warning("batch committed but not confirmed by the synchronous standby: answered BUSY", metadata: ["size": "\(batch.count)"])
        return false
    }

    /// Answers BUSY the requests whose deadline passed while they were queued (nothing was stored).
    private func answerBusy(_ expired: [WriteRequest]) {
        if !expired.isEmpty { answer(expired, Array(repeating: .busy, count: expired.count)) }
    }

    /// Tells each owner its writes' outcomes, once per owner.
    private func answer(_ batch: [WriteRequest], _ outcomes: [WriteOutcome]) {
        var byOwner: [ObjectIdentifier: [(sequence: Int, outcome: WriteOutcome)]] = [:]
        var owners: [WriteOwner] = []
        for (request, outcome) in zip(batch, outcomes) {
            let id = ObjectIdentifier(request.owner)
            if byOwner[id] == nil { owners.append(request.owner) }
            byOwner[id, default: []].append((request.sequence, outcome))
        }
        for owner in owners { owner.writesFinished(byOwner[ObjectIdentifier(owner)]!) }
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
