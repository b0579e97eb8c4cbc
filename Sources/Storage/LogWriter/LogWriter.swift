import Domain
import EventLog
import EventRecords
import Foundation
import Logging
import PostgresClient
import Vault
import WriteDecision

/// Seals personal content and appends events to the log: the one way events are written, by
/// consultd's group committer (batches whose writes are decided one by one) and by consultctl's
/// convener commands (all or nothing). Holds no connection: each call is given the caller's.
public final class LogWriter: Sendable {
    /// Seals personal content; nil where none may be written (consultctl without a master key).
    public let vault: Vault?
    private let logger: Logger

    public init(vault: Vault?, logger: Logger = Logger(label: "consult.log-writer")) {
        self.vault = vault
        self.logger = logger
    }

    /// No master key was given, and an event carries personal content.
    public struct NoMasterKey: Error, CustomStringConvertible {
        public var description: String { "this writes personal content, which is sealed under the master key: none was given" }
    }

    // MARK: Sealing

    /// `event` sealed without the database, when its organisation's data key is open in this
    /// process already (the common case after its first submission); nil when it is not, and the
    /// append will seal it. Lets each connection seal its own writes, on its own queue.
    public func sealIfKeyOpen(_ event: NewEvent) -> SealedEvent? {
        try? vault?.sealIfKeyOpen(event)
    }

    /// Each event sealed: those given sealed already as they are, the others sealed now (creating
    /// an organisation's data key the first time it is needed).
    public func seal(_ events: [(plain: NewEvent, sealed: SealedEvent?)], _ connection: Connection) throws -> [SealedEvent] {
        let missing = events.indices.filter { events[$0].sealed == nil }
        guard !missing.isEmpty else { return events.map { $0.sealed! } }
        let plain = missing.map { events[$0].plain }
        let fresh: [SealedEvent]
        if let vault {
            fresh = try vault.seal(plain, connection)
        } else if plain.contains(where: { PersonalContent.carried(by: $0.type) }) {
            throw NoMasterKey()
        } else {
            fresh = plain.map { SealedEvent(event: $0, contentKey: nil) }
        }
        var sealed = events.map(\.sealed)
        for (index, event) in zip(missing, fresh) { sealed[index] = event }
        return sealed.map { $0! }
    }

    // MARK: Appending

    /// Appends `events` in one transaction, all or nothing: the first refusal (a version or key
    /// conflict) rolls every one back and is thrown as `AppendError`. For consultctl's commands,
    /// whose events make sense only together.
    @discardableResult
    public func appendAll(_ events: [NewEvent], store: EventStore) throws -> [Appended] {
        // Sealed before the transaction: a data key made here must outlive a rolled-back append,
        // since this process keeps it open.
        let sealed = try seal(events.map { ($0, nil) }, store.connection)
        return try store.connection.transaction { _ in
            try store.append(batch: sealed.map(\.event), contentKeys: sealed.map(\.contentKey)).map { try $0.get() }
        }
    }

    /// A batch append, its statement's parameters encoded: made by `encode`, then `send` and `receive`.
    public struct EncodedBatch {
        let sealed: [SealedEvent]
        let registryAsOf: Int64
        let parameters: [PostgresEncodable?]
        /// Whether the statement went out (a refusal while sending leaves the batch to the fallback).
        public internal(set) var sent = false
    }

    /// `sealed`, decided as of registry position `registryAsOf`, ready to send: what the committer
    /// does for the next batch while the database appends the one before.
    public func encode(_ sealed: [SealedEvent], registryAsOf: Int64) -> EncodedBatch {
        EncodedBatch(
            sealed: sealed, registryAsOf: registryAsOf,
            parameters: EventStore.parameters(batch: sealed.map(\.event), contentKeys: sealed.map(\.contentKey), registryAsOf: registryAsOf))
    }

    /// Sends a batch's one statement and returns at once (`receive` waits for its answers).
    public func send(_ batch: inout EncodedBatch, store: EventStore) throws {
        do {
            try store.send(batch: batch.parameters)
            batch.sent = true
        } catch let failure as PostgresError where !failure.isConnectionProblem && !failure.isTimeout {
            logger.warning("batch refused, appending one by one", metadata: Self.describe(failure))
        }
    }

    /// The answers to a batch sent: one statement, one commit, one answer per event. Throws
    /// `EventStore.RegistryMoved` (nothing stored) if a consultation or organisation event lies past
    /// the position it was decided as of, and `PostgresError` when the database went away or timed
    /// out before anything was stored. If the database refused the statement for any other reason
    /// (one event's content, say), each event is appended alone, so that one bad submission does not
    /// fail the others.
    public func receive(_ batch: EncodedBatch, store: EventStore) throws -> [AppendAnswer] {
        guard batch.sent else { return try appendOneByOne(batch.sealed, registryAsOf: batch.registryAsOf, store: store) }
        do {
            return try store.receive(batch: batch.sealed.map(\.event)).map(Self.answer)
        } catch let failure as PostgresError where !failure.isConnectionProblem && !failure.isTimeout {
            logger.warning("batch refused, appending one by one", metadata: Self.describe(failure))
            return try appendOneByOne(batch.sealed, registryAsOf: batch.registryAsOf, store: store)
        }
    }

    /// Each event committed alone. If the database goes away part way, those before it are stored
    /// and say so; the rest are unavailable (a retry of the same key finds out).
    private func appendOneByOne(_ sealed: [SealedEvent], registryAsOf: Int64, store: EventStore) throws -> [AppendAnswer] {
        var answers: [AppendAnswer] = []
        for event in sealed {
            do {
                answers.append(Self.answer(.success(try store.append(event.event, contentKey: event.contentKey, registryAsOf: registryAsOf))))
            } catch let refusal as AppendError {
                answers.append(Self.answer(.failure(refusal)))
            } catch let error as PostgresError {
                if error.isConnectionProblem || error.isTimeout { break }
                // Class 22 is "data exception": the content itself was refused.
                if error.sqlState?.hasPrefix("22") == true {
                    answers.append(.contentRefused(error.message))
                } else {
                    logger.error("append failed", metadata: Self.describe(error))
                    answers.append(.failed)
                }
            }
        }
        return answers + Array(repeating: .unavailable, count: sealed.count - answers.count)
    }

    private static func answer(_ result: Result<Appended, AppendError>) -> AppendAnswer {
        switch result {
        case .success(let appended): return .stored(position: appended.position)
        case .failure(.idempotencyConflict(_, let position)): return .keyTaken(position: position)
        case .failure(.versionConflict): return .versionConflict
        }
    }

    // MARK: Retries

    /// For each event, whether the one stored at its position is it: same stream and type, and the
    /// same data once opened (as jsonb: key order and spacing differ between a client's body and
    /// what was stored). Content already erased compares unequal.
    public func matches(_ events: [NewEvent], storedAt positions: [Int64], store: EventStore) throws -> [Bool] {
        guard let vault else { throw NoMasterKey() }
        return try vault.storedEvents(at: positions, match: events, store.connection)
    }

    /// For each event, the one its idempotency key holds, if any, and whether it is the same.
    public func earlier(_ events: [NewEvent], store: EventStore) throws -> [EarlierEvent?] {
        var found: [EarlierEvent?] = []
        for event in events {
            guard let key = event.idempotencyKey else {
                found.append(nil)
                continue
            }
            let row = try store.connection.execute(
                """
                SELECT position, (stream = $2 AND type = $3 AND data = $4::jsonb) AS same
                  FROM consult.events WHERE idempotency_key = $1
                """, [key, event.stream, event.type, event.data]
            ).first
            guard let row else {
                found.append(nil)
                continue
            }
            let position: Int64 = try row.get("position")
            var same: Bool = try row.get("same")
            if !same && PersonalContent.carried(by: event.type) { same = try matches([event], storedAt: [position], store: store)[0] }
            found.append(same ? .same(position: position) : .other(position: position))
        }
        return found
    }

    /// An error for the log without its detail: PostgreSQL's detail can quote the failing row, and
    /// submission text stays out of logs.
    public static func describe(_ error: Error) -> Logger.Metadata {
        if let error = error as? VaultError { return ["error": "\(error)"] }  // never carries content or keys
        guard let error = error as? PostgresError else { return ["error": "\(type(of: error))"] }
        return ["sqlstate": "\(error.sqlState ?? "-")", "error": "\(error.message)"]
    }
}
