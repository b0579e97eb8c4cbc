import EventRecords
import Foundation
import JSON

/// An event decided by a command: what to append, on what expectation, idempotent under what key.
public struct PendingEvent: Equatable, Sendable {
    public let event: DomainEvent
    public let expectedVersion: ExpectedVersion
    /// When set, a second append with this key stores nothing (and is a conflict if its content differs).
    public let idempotencyKey: String?

    public init(_ event: DomainEvent, expectedVersion: ExpectedVersion = .any, idempotencyKey: String? = nil) {
        self.event = event
        self.expectedVersion = expectedVersion
        self.idempotencyKey = idempotencyKey
    }

    public var stream: String { event.stream }
}

/// Why a command was refused, in the domain's words; the server and consultctl each translate it
/// (a protocol error code, a one-line message). The field at fault is named where there is one.
public struct DomainError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The input is wrong: `field` says which part.
        case invalid
        /// What the command refers to does not exist (or is not the caller's).
        case notFound
        /// The consultation is not open for submissions now.
        case closed
        /// It exists already, or was changed in a way that rules this out.
        case conflict
    }

    public let kind: Kind
    public let field: String?
    public let message: String

    public init(_ kind: Kind, field: String? = nil, _ message: String) {
        self.kind = kind
        self.field = field
        self.message = message
    }

    static func invalid(_ field: String, _ message: String) -> DomainError { DomainError(.invalid, field: field, message) }

    public var description: String { field.map { "\($0): \(message)" } ?? message }
}

/// What a command knows of one stream before deciding: its events (decoded) and its version.
public struct StreamState: Sendable {
    public let events: [DomainEvent]
    public let version: Int64

    public init(events: [DomainEvent], version: Int64) {
        self.events = events
        self.version = version
    }

    public static let empty = StreamState(events: [], version: 0)
}

/// Every command that writes to the log, decided in one place: each takes what it needs to know
/// (the registry, a stream's state) and returns the events to append or why not. The daemon runs
/// the submission commands, consultctl the convener's; neither decides anything itself.
public enum Commands {
    // MARK: Organisations' commands (the protocol)

    /// A submission whose body passed `SubmissionRules.shape`; the checks against the consultation
    /// come at commit time (`admit`), when the registry is current.
    public static func submit(_ submission: SubmissionKey, body: JSONValue) -> Result<(PendingEvent, SubmissionRules.Shape), DomainError> {
        SubmissionRules.shape(of: body).map { (received(submission, body: body), $0) }
    }

    /// The event of a submission whose body was checked. Idempotent on (organisation, consultation,
    /// key): a retry is a duplicate exactly when the body is the same JSON value.
    public static func received(_ submission: SubmissionKey, body: JSONValue) -> PendingEvent {
        PendingEvent(.submissionReceived(SubmissionReceived(submission, body: body)), idempotencyKey: Streams.submission(submission))
    }

    /// Whether a checked submission may be appended to `consultation` (nil: not found) at `now`.
    public static func admit(_ shape: SubmissionRules.Shape, to consultation: Consultation?, id: String, now: Date) -> DomainError? {
        guard let consultation else { return DomainError(.notFound, "no consultation \(id)") }
        guard consultation.isOpen(at: now) else {
            return DomainError(.closed, "consultation \(consultation.id) is not open for submissions now")
        }
        return SubmissionRules.check(shape, for: consultation)
    }

    /// A withdrawal: it expects the submission stream at version 1 (so a missing submission is a
    /// version conflict at 0), and a repeated withdrawal is a duplicate of the first.
    public static func withdraw(_ submission: SubmissionKey, reason: String?) -> PendingEvent {
        let stream = Streams.submission(submission)
        return PendingEvent(
            .submissionWithdrawn(SubmissionWithdrawn(submission, reason: reason.map(PersonalText.plain))), expectedVersion: .exactly(1),
            idempotencyKey: stream + "#withdrawn")
    }

    /// Whether a withdrawal may be appended: only the consultation must exist (nil: not found).
    public static func admitWithdrawal(to consultation: Consultation?, id: String) -> DomainError? {
        consultation == nil ? DomainError(.notFound, "no consultation \(id)") : nil
    }

    // MARK: Conveners' commands (consultctl)

    /// Registers an organisation with its first credential, `k1`.
    public static func register(_ organisation: Organisation, tokenHash: String, registry: Registry) -> Result<[PendingEvent], DomainError> {
        if let refusal = ConvenerRules.refusal(organisation) { return .failure(refusal) }
        guard registry.organisations[organisation.id] == nil else {
            return .failure(DomainError(.conflict, field: "id", "organisation \(organisation.id) already exists"))
        }
        return .success([
            PendingEvent(.organisationRegistered(organisation), expectedVersion: .noStream),
            PendingEvent(
                .credentialIssued(CredentialIssued(organisation: organisation.id, credential: "k1", sha256: tokenHash)),
                expectedVersion: .exactly(1)),
        ])
    }

    /// A new profile for an organisation (fields not given are kept); nil when nothing changes.
    public static func changeProfile(
        of id: String, name: String?, type: String?, leadership: [String]?, level: String?, country: String?,
        stream: StreamState
    ) -> Result<PendingEvent?, DomainError> {
        var current: Organisation?
        for event in stream.events {
            switch event {
            case .organisationRegistered(let profile), .organisationProfileChanged(let profile): current = profile
            default: break
            }
        }
        guard let current else { return .failure(DomainError(.notFound, field: "id", "no organisation \(id)")) }
        guard name != nil || type != nil || leadership != nil || level != nil || country != nil else {
            return .failure(DomainError(.invalid, "give at least one of name, type, leadership, level, country"))
        }
        let profile = Organisation(
            id: current.id, name: name ?? current.name, type: type ?? current.type, leadership: leadership ?? current.leadership,
            level: level ?? current.level, country: country ?? current.country)
        if let refusal = ConvenerRules.refusal(profile) { return .failure(refusal) }
        guard profile != current else { return .success(nil) }
        return .success(PendingEvent(.organisationProfileChanged(profile), expectedVersion: .exactly(stream.version)))
    }

    /// A new credential, revoking the live ones unless `keepOld`; returns its name and the events.
    public static func rotateCredential(
        of id: String, tokenHash: String, keepOld: Bool, registry: Registry, stream: StreamState
    ) -> Result<(credential: String, events: [PendingEvent]), DomainError> {
        guard registry.organisations[id] != nil else { return .failure(DomainError(.notFound, field: "id", "no organisation \(id)")) }
        let issued = stream.events.filter { if case .credentialIssued = $0 { return true } else { return false } }.count
        let credential = "k\(issued + 1)"
        var events: [DomainEvent] = [.credentialIssued(CredentialIssued(organisation: id, credential: credential, sha256: tokenHash))]
        if !keepOld {
            events += (registry.credentials[id] ?? [:]).keys.sorted().map { .credentialRevoked(CredentialRevoked(organisation: id, credential: $0)) }
        }
        return .success((credential, numbered(events, after: stream.version)))
    }

    /// Revokes one credential, or all live ones; returns their names and the events.
    public static func revoke(
        of id: String, credential: String?, registry: Registry, version: Int64
    ) -> Result<(revoked: [String], events: [PendingEvent]), DomainError> {
        let live = registry.credentials[id] ?? [:]
        let targets = credential.map { [$0] } ?? live.keys.sorted()
        guard !targets.isEmpty, targets.allSatisfy({ live[$0] != nil }) else {
            return .failure(DomainError(.notFound, field: "credential", "\(id) has no live credential \(credential ?? "")"))
        }
        let events = targets.map { DomainEvent.credentialRevoked(CredentialRevoked(organisation: id, credential: $0)) }
        return .success((targets, numbered(events, after: version)))
    }

    public static func open(_ consultation: Consultation, registry: Registry) -> Result<PendingEvent, DomainError> {
        if let refusal = ConvenerRules.refusal(consultation) { return .failure(refusal) }
        guard registry.consultations[consultation.id] == nil else {
            return .failure(DomainError(.conflict, field: "id", "consultation \(consultation.id) already exists"))
        }
        return .success(PendingEvent(.consultationOpened(consultation), expectedVersion: .noStream))
    }

    public static func close(_ id: String, at time: Date, registry: Registry, version: Int64) -> Result<PendingEvent, DomainError> {
        guard let consultation = registry.consultations[id] else {
            return .failure(DomainError(.notFound, field: "id", "no consultation \(id)"))
        }
        guard consultation.closedAt == nil else { return .failure(DomainError(.conflict, field: "id", "\(id) is already closed")) }
        return .success(PendingEvent(.consultationClosed(ConsultationClosed(id: id, closedAt: time)), expectedVersion: .exactly(version)))
    }

    /// Names added to an open or closed consultation (`stream` is its stream); nil when it already has every one of them.
    public static func name(_ id: String, _ names: NameBook, registry: Registry, stream: StreamState) -> Result<PendingEvent?, DomainError> {
        guard let consultation = registry.consultations[id] else {
            return .failure(DomainError(.notFound, field: "id", "no consultation \(id)"))
        }
        guard !names.isEmpty else { return .failure(.invalid("names", "give at least one name")) }
        if let refusal = ConvenerRules.refusal(names, of: consultation) { return .failure(refusal) }
        let current = NameBook.current(in: stream.events)
        guard current.merging(names) != current else { return .success(nil) }
        return .success(PendingEvent(
            .consultationNamed(ConsultationNamed(consultation: id, names: names)), expectedVersion: .exactly(stream.version)))
    }

    /// Feedback to a submission that exists and was not withdrawn (`submission` is its stream).
    public static func giveFeedback(to id: SubmissionKey, text: String, submission: StreamState) -> Result<PendingEvent, DomainError> {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, text.unicodeScalars.count <= SubmissionRules.maxTextLength else {
            return .failure(.invalid("text", "1 to \(SubmissionRules.maxTextLength) characters"))
        }
        let received = submission.events.contains { if case .submissionReceived = $0 { return true } else { return false } }
        guard received else {
            return .failure(DomainError(.notFound, field: "key", "no submission \(id.key) of \(id.organisation) in \(id.consultation)"))
        }
        let withdrawn = submission.events.contains { if case .submissionWithdrawn = $0 { return true } else { return false } }
        guard !withdrawn else {
            return .failure(DomainError(.conflict, field: "key", "submission \(id.key) of \(id.organisation) was withdrawn"))
        }
        return .success(PendingEvent(.feedbackGiven(FeedbackGiven(id, text: text))))
    }

    /// An outcome citing `cites` (each `ORGANISATION/KEY`); `exists` says whether a submission was received.
    public static func publishOutcome(
        of consultation: String, summary: String, cites: [String], registry: Registry, version: Int64,
        exists: (SubmissionKey) throws -> Bool
    ) throws -> Result<PendingEvent, DomainError> {
        guard !summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return .failure(.invalid("summary", "required")) }
        guard registry.consultations[consultation] != nil else {
            return .failure(DomainError(.notFound, field: "consultation", "no consultation \(consultation)"))
        }
        var citations: [Citation] = []
        for entry in cites {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return .failure(.invalid("cite", "\(entry) is not ORGANISATION/KEY")) }
            guard try exists(SubmissionKey(organisation: parts[0], consultation: consultation, key: parts[1])) else {
                return .failure(DomainError(.notFound, field: "cite", "no submission \(entry) in \(consultation)"))
            }
            citations.append(Citation(organisation: parts[0], key: parts[1]))
        }
        return .success(PendingEvent(
            .outcomePublished(OutcomePublished(consultation: consultation, summary: summary, cites: citations)),
            expectedVersion: .exactly(version)))
    }

    /// Events for one stream, each expecting the version the one before it leaves.
    private static func numbered(_ events: [DomainEvent], after version: Int64) -> [PendingEvent] {
        events.enumerated().map { PendingEvent($0.element, expectedVersion: .exactly(version + Int64($0.offset))) }
    }
}
