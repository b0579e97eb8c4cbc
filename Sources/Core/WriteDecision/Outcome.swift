import Domain
import LineProtocol

/// What became of one write. The decision knows outcomes; `WriteWording` says them on the wire.
public enum WriteOutcome: Equatable, Sendable {
    /// Stored at `position`, now or by an earlier request with the same key and content.
    case stored(position: Int64)
    /// The key already holds different content, stored at `position`.
    case conflict(position: Int64)
    /// A withdrawal of a submission that does not exist.
    case noSubmission
    /// Refused by the domain's rules: a body of the wrong shape, no such consultation, not open now
    /// (and nothing was stored under this key before), or a body that does not fit the consultation.
    case refusedByRules(DomainError)
    /// The database refused the content itself (SQLSTATE class 22).
    case refused(message: String)
    /// The database is unreachable or did not answer in time, or the queue is full: nothing stored.
    case busy
    case shuttingDown
    case failed

    /// Whether the write is known to be in the log.
    public var isStored: Bool {
        if case .stored = self { return true } else { return false }
    }
}

/// The verb, key and consultation a write's reply names (kept while the write is in flight, without its body).
public struct WriteWording: Equatable, Sendable {
    public enum Verb: String, Sendable {
        case submit = "SUBMIT"
        case withdraw = "WITHDRAW"
    }

    public let verb: Verb
    public let key: String
    public let consultation: String

    public init(verb: Verb, key: String, consultation: String) { (self.verb, self.key, self.consultation) = (verb, key, consultation) }

    /// The wire's words for an outcome (SPEC: error codes).
    public func reply(for outcome: WriteOutcome) -> Reply {
        switch outcome {
        case .stored(let position):
            return .ok("\(verb.rawValue) \(key) \(position)")
        case .conflict(let position):
            switch verb {
            case .submit: return .error(.conflict, "key \(key) already holds a different submission (position \(position))")
            case .withdraw: return .error(.conflict, "submission \(key) was already withdrawn with another reason (position \(position))")
            }
        case .noSubmission:
            return .error(.notFound, "no submission \(key) of yours in consultation \(consultation)")
        case .refusedByRules(let error):
            return error.reply
        case .refused(let message):
            return .error(.invalid, "body: refused by the database (\(message))")
        case .busy:
            return .error(.busy, "database unavailable or overloaded; nothing was stored, retry later")
        case .shuttingDown:
            return .error(.busy, "server shutting down; nothing was stored, retry later")
        case .failed:
            return .error(.internal, "the server could not store this; nothing was stored, retry later")
        }
    }
}

extension DomainError {
    /// The protocol's words for a domain refusal (SPEC: error codes).
    public var reply: Reply {
        switch kind {
        case .invalid: return .error(.invalid, description)
        case .notFound: return .error(.notFound, message)
        case .closed: return .error(.closed, message)
        case .conflict: return .error(.conflict, message)
        }
    }
}
