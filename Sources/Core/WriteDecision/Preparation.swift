import Domain
import EventRecords
import Foundation
import JSON

/// A write whose shape passed, with the event it appends if admitted. Made where the request was
/// read (the connection's queue), so the committer, which every connection waits on, does not.
public struct PreparedWrite: Sendable {
    public enum Check: Equatable, Sendable {
        /// A submission: the body's shape, checked against the consultation at admission.
        case submit(SubmissionRules.Shape)
        /// A withdrawal: only the consultation must exist.
        case withdraw
    }

    public let check: Check
    public let consultation: String
    /// The event as the client gave it (personal content in plain text): what a retry is compared with.
    public let event: NewEvent

    /// Stage one, the shape: a submission's event, or the refusal to answer at once.
    public static func submission(_ submission: SubmissionKey, body: JSONValue, metadata: JSONValue) -> Result<PreparedWrite, DomainError> {
        Commands.submit(submission, body: body).map { pending, shape in
            PreparedWrite(check: .submit(shape), consultation: submission.consultation, event: NewEvent(pending, metadata: metadata))
        }
    }

    /// A withdrawal's event (its shape was the request line's).
    public static func withdrawal(_ submission: SubmissionKey, reason: String?, metadata: JSONValue) -> PreparedWrite {
        PreparedWrite(
            check: .withdraw, consultation: submission.consultation,
            event: NewEvent(Commands.withdraw(submission, reason: reason), metadata: metadata))
    }

    /// Stage two, admission: nil when the write may be appended as `registry` stands; else why not.
    public func admission(in registry: Registry, now: Date) -> DomainError? {
        let found = registry.consultations[consultation]
        switch check {
        case .submit(let shape): return Commands.admit(shape, to: found, id: consultation, now: now)
        case .withdraw: return Commands.admitWithdrawal(to: found, id: consultation)
        }
    }

    /// Whether a stored event under this write's key can be told apart from it only once opened:
    /// sealed content differs at every sealing, so the append's own comparison cannot say.
    public var comparedOpened: Bool { PersonalContent.carried(by: event.type) }
}
