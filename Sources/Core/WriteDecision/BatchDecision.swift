import Domain
import Foundation

/// What the log said of one event of a batch append:
/// - `stored`: in the log at `position`, appended now or found there with the same content (a retry);
/// - `keyTaken`: the idempotency key is taken, at `position`, by an event the append could not match
///   with this one (different content, or sealed content, which only opened can be compared);
/// - `versionConflict`: the stream was not at the version expected (a withdrawal of nothing);
/// - `contentRefused`: the database refused the content itself (SQLSTATE class 22), with its message;
/// - `unavailable`: the database went away or did not answer in time before this event was stored;
/// - `failed`: any other failure.
public enum AppendAnswer: Equatable, Sendable {
    case stored(position: Int64), keyTaken(position: Int64), versionConflict, contentRefused(String), unavailable, failed
}

/// What a write's idempotency key holds, when it holds anything: this write's event, stored
/// earlier (compared opened, when sealed), or another.
public enum EarlierEvent: Equatable, Sendable {
    case same(position: Int64), other(position: Int64)
}

/// The decision over one batch of writes, from admission to the outcome each is answered with:
/// pure, so that every path through it is tested without a database. The committer performs each
/// `Action` it returns, against PostgreSQL, and feeds back what came of it, until `.answer`.
///
/// The order it follows, and why:
/// 1. Admission against the registry the daemon follows. That copy may lag a consultation opened
///    a moment ago, so a refusal is trusted only from a registry read for this batch (`fresh`):
///    a refusal from the followed copy asks to catch up first.
/// 2. The append, which refuses the whole batch (`registryMoved`) if a consultation or
///    organisation event came after the registry's position: then admission runs again.
/// 3. A taken key with sealed content is compared opened: equal, it is a retry of a stored write.
/// 4. A write refused because its consultation is closed may be a retry of one stored while it
///    was open: what its key holds decides.
/// 5. A stored write is answered OK only once the synchronous standby has confirmed it (if the
///    database has one): an OK must survive a failover.
public struct BatchDecision: Sendable {
    /// What the committer must do next.
    public enum Action: Equatable, Sendable {
        /// Seal the personal content of these writes (indices into the batch) and append them, in
        /// order, in one transaction that checks the registry has not moved past `registryAsOf`.
        case append([Int], registryAsOf: Int64)
        /// Read the registry's newest events, then call `registryCaughtUp`.
        case catchUpRegistry
        /// For each (write, position), open the event stored at `position` and say whether it is the write's.
        case compare([Comparison])
        /// For each write, the event its idempotency key holds, if any (`foundEarlier`).
        case findEarlier([Int])
        /// Wait until everything committed so far is on the synchronous standby (`confirmed`).
        case confirmStandby
        /// Answer each write of the batch, in order.
        case answer([WriteOutcome])
    }

    /// A write whose key holds an event at `position` that may be the same write, sealed.
    public struct Comparison: Equatable, Sendable {
        public let write: Int
        public let position: Int64

        public init(write: Int, position: Int64) { (self.write, self.position) = (write, position) }
    }

    /// Why an action failed.
    public enum Failure: Sendable {
        /// The database went away or did not answer in time: what is not known stored was not.
        case unavailable
        /// Anything else (logged by the committer).
        case failed
    }

    private enum State: Sendable {
        case idle
        case awaitingRegistry
        case appending(writes: [Int], closed: [Closed])
        case comparing([Comparison], closed: [Closed])
        case findingEarlier([Closed])
        case confirming
        case answered
    }

    /// A write refused because its consultation is not open (a retry may still learn its position).
    private struct Closed: Sendable {
        let write: Int
        let refusal: DomainError
    }

    private let writes: [PreparedWrite]
    private let now: Date
    private var registry: Registry
    private var state = State.idle
    private var outcomes: [WriteOutcome?]

    public init(_ writes: [PreparedWrite], registry: Registry, now: Date) {
        self.writes = writes
        self.registry = registry
        self.now = now
        outcomes = Array(repeating: nil, count: writes.count)
    }

    /// The first action: admission against the followed registry.
    public mutating func start() -> Action {
        guard case .idle = state else { preconditionFailure("start() once") }
        return admit(fresh: false)
    }

    /// The append stored nothing: the registry moved past the position the batch was decided at.
    public mutating func registryMoved() -> Action {
        guard case .appending = state else { preconditionFailure("registryMoved() answers .append") }
        state = .awaitingRegistry
        return .catchUpRegistry
    }

    /// The registry as read from the database for this batch.
    public mutating func registryCaughtUp(_ current: Registry) -> Action {
        guard case .awaitingRegistry = state else { preconditionFailure("registryCaughtUp() answers .catchUpRegistry") }
        registry = current
        return admit(fresh: true)
    }

    /// What the append said of each write it was given, in order.
    public mutating func appended(_ answers: [AppendAnswer]) -> Action {
        guard case .appending(let appended, let closed) = state else { preconditionFailure("appended() answers .append") }
        precondition(answers.count == appended.count, "one answer per write appended")
        var comparisons: [Comparison] = []
        for (write, answer) in zip(appended, answers) {
            switch answer {
            case .stored(let position): outcomes[write] = .stored(position: position)
            case .keyTaken(let position) where writes[write].comparedOpened:
                comparisons.append(Comparison(write: write, position: position))
            case .keyTaken(let position): outcomes[write] = .conflict(position: position)
            case .versionConflict: outcomes[write] = .noSubmission
            case .contentRefused(let message): outcomes[write] = .refused(message: message)
            case .unavailable: outcomes[write] = .busy
            case .failed: outcomes[write] = .failed
            }
        }
        if !comparisons.isEmpty {
            state = .comparing(comparisons, closed: closed)
            return .compare(comparisons)
        }
        return lookForEarlier(closed)
    }

    /// For each comparison asked, whether the stored event is the write's.
    public mutating func compared(_ same: [Bool]) -> Action {
        guard case .comparing(let comparisons, let closed) = state else { preconditionFailure("compared() answers .compare") }
        precondition(same.count == comparisons.count, "one answer per comparison")
        for (comparison, same) in zip(comparisons, same) {
            outcomes[comparison.write] = same ? .stored(position: comparison.position) : .conflict(position: comparison.position)
        }
        return lookForEarlier(closed)
    }

    /// For each write asked about, the event its key holds (nil: none).
    public mutating func foundEarlier(_ found: [EarlierEvent?]) -> Action {
        guard case .findingEarlier(let closed) = state else { preconditionFailure("foundEarlier() answers .findEarlier") }
        precondition(found.count == closed.count, "one answer per write")
        for (write, earlier) in zip(closed, found) {
            switch earlier {
            case nil: outcomes[write.write] = .refusedByRules(write.refusal)
            case .same(let position)?: outcomes[write.write] = .stored(position: position)
            case .other(let position)?: outcomes[write.write] = .conflict(position: position)
            }
        }
        return confirmIfStored()
    }

    /// Whether the synchronous standby holds everything committed before the question was asked.
    public mutating func confirmed(_ confirmed: Bool) -> Action {
        guard case .confirming = state else { preconditionFailure("confirmed() answers .confirmStandby") }
        if !confirmed { unconfirmStored() }
        return answer()
    }

    /// The last action failed. Unavailable: nothing stored is known to be on the standby, so no write
    /// is answered OK (a retry with the same key learns its position). Otherwise the writes not yet
    /// decided fail, and those stored still wait for the standby.
    public mutating func failed(_ failure: Failure) -> Action {
        switch failure {
        case .unavailable:
            unconfirmStored()
            return answer()
        case .failed:
            if case .confirming = state {
                unconfirmStored()
                return answer()
            }
            for index in outcomes.indices where outcomes[index] == nil { outcomes[index] = .failed }
            return confirmIfStored()
        }
    }

    // MARK: Stages

    private mutating func admit(fresh: Bool) -> Action {
        outcomes = Array(repeating: nil, count: writes.count)
        var admitted: [Int] = []
        var closed: [Closed] = []
        for (index, write) in writes.enumerated() {
            switch write.admission(in: registry, now: now) {
            case nil: admitted.append(index)
            case let refusal? where refusal.kind == .closed: closed.append(Closed(write: index, refusal: refusal))
            case let refusal?: outcomes[index] = .refusedByRules(refusal)
            }
        }
        if !fresh && admitted.count < writes.count {
            // Not trusted, so not answered, should the catch-up fail.
            outcomes = Array(repeating: nil, count: writes.count)
            state = .awaitingRegistry
            return .catchUpRegistry
        }
        if admitted.isEmpty { return lookForEarlier(closed) }
        state = .appending(writes: admitted, closed: closed)
        return .append(admitted, registryAsOf: registry.position)
    }

    private mutating func lookForEarlier(_ closed: [Closed]) -> Action {
        let asked = closed.filter { writes[$0.write].event.idempotencyKey != nil }
        for write in closed where writes[write.write].event.idempotencyKey == nil { outcomes[write.write] = .refusedByRules(write.refusal) }
        guard asked.isEmpty else {
            state = .findingEarlier(asked)
            return .findEarlier(asked.map(\.write))
        }
        return confirmIfStored()
    }

    private mutating func confirmIfStored() -> Action {
        guard outcomes.contains(where: { $0?.isStored == true }) else { return answer() }
        state = .confirming
        return .confirmStandby
    }

    private mutating func unconfirmStored() {
        for index in outcomes.indices where outcomes[index]?.isStored == true { outcomes[index] = .busy }
    }

    private mutating func answer() -> Action {
        state = .answered
        // A write nothing was learnt of (the database went away first) was not stored: BUSY.
        return .answer(outcomes.map { $0 ?? .busy })
    }
}
