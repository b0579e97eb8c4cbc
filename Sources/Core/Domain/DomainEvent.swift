import Foundation
import JSON

/// Event type names, as stored in the log's `type` column.
public enum EventType {
    public static let organisationRegistered = "OrganisationRegistered"
    /// A new profile (the whole of it) for a registered organisation; past submissions keep the old one.
    public static let organisationProfileChanged = "OrganisationProfileChanged"
    public static let credentialIssued = "CredentialIssued"
    public static let credentialRevoked = "CredentialRevoked"
    public static let consultationOpened = "ConsultationOpened"
    public static let consultationClosed = "ConsultationClosed"
    public static let submissionReceived = "SubmissionReceived"
    public static let submissionWithdrawn = "SubmissionWithdrawn"
    /// To one submission, on its `feedback-` stream.
    public static let feedbackGiven = "FeedbackGiven"
    /// On the consultation's stream; a later one replaces the earlier everywhere.
    public static let outcomePublished = "OutcomePublished"
    /// Personal content's keys were destroyed (docs/PRIVACY.md), on the `erasures` stream.
    public static let contentErased = "ContentErased"
    /// Names for a consultation's title, convener, dimensions and groups in more languages, on its
    /// stream (reports only: admission never reads them, so the registry does not fold them).
    public static let consultationNamed = "ConsultationNamed"

    /// Every type above, in this order. The SQL side's list is `consult.event_types()`
    /// (schema/functions/event_types.sql); MigrationsTests checks that the two, and this list and the
    /// declarations above, are the same.
    public static let all = [
        organisationRegistered, organisationProfileChanged, credentialIssued, credentialRevoked, consultationOpened,
        consultationClosed, submissionReceived, submissionWithdrawn, feedbackGiven, outcomePublished, contentErased, consultationNamed,
    ]
}

/// Stream names (`category-id`). Protocol ARGs never contain `/`, so the separator is unambiguous.
public enum Streams {
    public static func organisation(_ id: String) -> String { "organisation-\(id)" }
    public static func consultation(_ id: String) -> String { "consultation-\(id)" }
    /// Every erasure, in one stream.
    public static let erasures = "erasure-log"
    public static func submission(_ id: SubmissionKey) -> String { "submission-\(id.path)" }
    public static func feedback(_ id: SubmissionKey) -> String { "feedback-\(id.path)" }
    public static func submission(organisation: String, consultation: String, key: String) -> String {
        submission(SubmissionKey(organisation: organisation, consultation: consultation, key: key))
    }
    public static func feedback(organisation: String, consultation: String, key: String) -> String {
        feedback(SubmissionKey(organisation: organisation, consultation: consultation, key: key))
    }
}

/// Which submission: whose, in which consultation, under which key.
public struct SubmissionKey: Hashable, Sendable {
    public let organisation: String
    public let consultation: String
    public let key: String

    public init(organisation: String, consultation: String, key: String) {
        self.organisation = organisation
        self.consultation = consultation
        self.key = key
    }

    /// `organisation/consultation/key`, as streams name it.
    var path: String { "\(organisation)/\(consultation)/\(key)" }

    /// The fields every event about one submission carries.
    var fields: [(String, JSONValue)] {
        [("organisation", .string(organisation)), ("consultation", .string(consultation)), ("key", .string(key))]
    }

    init(_ data: JSONValue, type: String) throws {
        try self.init(
            organisation: EventDecodingError.string(data, "organisation", type), consultation: EventDecodingError.string(data, "consultation", type),
            key: EventDecodingError.string(data, "key", type))
    }
}

/// A credential issued to an organisation: only the SHA-256 of its token is stored.
public struct CredentialIssued: Equatable, Sendable {
    public let organisation: String
    public let credential: String
    public let sha256: String

    public init(organisation: String, credential: String, sha256: String) {
        self.organisation = organisation
        self.credential = credential
        self.sha256 = sha256
    }
}

/// A credential that no longer authenticates.
public struct CredentialRevoked: Equatable, Sendable {
    public let organisation: String
    public let credential: String

    public init(organisation: String, credential: String) {
        self.organisation = organisation
        self.credential = credential
    }
}

/// A consultation closed by command before its `closes_at`.
public struct ConsultationClosed: Equatable, Sendable {
    public let id: String
    public let closedAt: Date

    public init(id: String, closedAt: Date) {
        self.id = id
        self.closedAt = closedAt
    }
}

/// A submission as the organisation sent it. Its body is kept as sent (it passed `SubmissionRules`),
/// so that a retry compares equal to it; the fields the metrics read are `stage`, `language` and
/// `represents`.
public struct SubmissionReceived: Equatable, Sendable {
    public let submission: SubmissionKey
    public let body: JSONValue

    /// The body's text: as sent, sealed as the log keeps it, or erased.
    public var text: PersonalText? { body["text"].flatMap(PersonalText.init(json:)) }

    public init(_ submission: SubmissionKey, body: JSONValue) {
        self.submission = submission
        self.body = body
    }
}

/// An organisation withdrew its submission (it no longer counts), with an optional reason.
public struct SubmissionWithdrawn: Equatable, Sendable {
    public let submission: SubmissionKey
    public let reason: PersonalText?

    public init(_ submission: SubmissionKey, reason: PersonalText?) {
        self.submission = submission
        self.reason = reason
    }

    public init(_ submission: SubmissionKey, reason: String) {
        self.init(submission, reason: .plain(reason))
    }
}

/// The convener's feedback to one submission.
public struct FeedbackGiven: Equatable, Sendable {
    public let submission: SubmissionKey
    public let text: PersonalText

    public init(_ submission: SubmissionKey, text: PersonalText) {
        self.submission = submission
        self.text = text
    }

    public init(_ submission: SubmissionKey, text: String) {
        self.init(submission, text: .plain(text))
    }
}

/// A submission cited by an outcome.
public struct Citation: Hashable, Sendable {
    public let organisation: String
    public let key: String

    public init(organisation: String, key: String) {
        self.organisation = organisation
        self.key = key
    }
}

/// A consultation's published outcome: what was done, and which submissions it cites.
public struct OutcomePublished: Equatable, Sendable {
    public let consultation: String
    public let summary: String
    public let cites: [Citation]

    public init(consultation: String, summary: String, cites: [Citation]) {
        self.consultation = consultation
        self.summary = summary
        self.cites = cites
    }
}

/// Every event of the log, with its payload: the one place that knows each type's JSON shape.
/// Writers encode through `data`; readers decode through `init(type:data:)`.
public enum DomainEvent: Equatable, Sendable {
    case organisationRegistered(Organisation)
    case organisationProfileChanged(Organisation)
    case credentialIssued(CredentialIssued)
    case credentialRevoked(CredentialRevoked)
    case consultationOpened(Consultation)
    case consultationClosed(ConsultationClosed)
    case consultationNamed(ConsultationNamed)
    case submissionReceived(SubmissionReceived)
    case submissionWithdrawn(SubmissionWithdrawn)
    case feedbackGiven(FeedbackGiven)
    case outcomePublished(OutcomePublished)
    case contentErased(ContentErased)

    /// The `type` column.
    public var type: String {
        switch self {
        case .organisationRegistered: return EventType.organisationRegistered
        case .organisationProfileChanged: return EventType.organisationProfileChanged
        case .credentialIssued: return EventType.credentialIssued
        case .credentialRevoked: return EventType.credentialRevoked
        case .consultationOpened: return EventType.consultationOpened
        case .consultationClosed: return EventType.consultationClosed
        case .consultationNamed: return EventType.consultationNamed
        case .submissionReceived: return EventType.submissionReceived
        case .submissionWithdrawn: return EventType.submissionWithdrawn
        case .feedbackGiven: return EventType.feedbackGiven
        case .outcomePublished: return EventType.outcomePublished
        case .contentErased: return EventType.contentErased
        }
    }

    /// The stream the event belongs to.
    public var stream: String {
        switch self {
        case .organisationRegistered(let organisation), .organisationProfileChanged(let organisation):
            return Streams.organisation(organisation.id)
        case .credentialIssued(let event): return Streams.organisation(event.organisation)
        case .credentialRevoked(let event): return Streams.organisation(event.organisation)
        case .consultationOpened(let consultation): return Streams.consultation(consultation.id)
        case .consultationClosed(let event): return Streams.consultation(event.id)
        case .consultationNamed(let event): return Streams.consultation(event.consultation)
        case .submissionReceived(let event): return Streams.submission(event.submission)
        case .submissionWithdrawn(let event): return Streams.submission(event.submission)
        case .feedbackGiven(let event): return Streams.feedback(event.submission)
        case .outcomePublished(let event): return Streams.consultation(event.consultation)
        case .contentErased: return Streams.erasures
        }
    }

    /// The `data` column.
    public var data: JSONValue {
        switch self {
        case .organisationRegistered(let organisation), .organisationProfileChanged(let organisation):
            return organisation.json
        case .credentialIssued(let event):
            return .object([
                ("organisation", .string(event.organisation)), ("credential", .string(event.credential)),
                ("sha256", .string(event.sha256)),
            ])
        case .credentialRevoked(let event):
            return .object([("organisation", .string(event.organisation)), ("credential", .string(event.credential))])
        case .consultationOpened(let consultation):
            return consultation.json
        case .consultationClosed(let event):
            return .object([("id", .string(event.id)), ("closed_at", .string(Timestamps.format(event.closedAt)))])
        case .consultationNamed(let event):
            return .object([("consultation", .string(event.consultation)), ("names", event.names.json)])
        case .submissionReceived(let event):
            return .object(event.submission.fields + [("submission", event.body)])
        case .submissionWithdrawn(let event):
            return .object(event.submission.fields + [("reason", event.reason?.json ?? .null)])
        case .feedbackGiven(let event):
            return .object(event.submission.fields + [("text", event.text.json)])
        case .outcomePublished(let event):
            return .object([
                ("consultation", .string(event.consultation)), ("summary", .string(event.summary)),
                ("cites", .array(event.cites.map { .object([("organisation", .string($0.organisation)), ("key", .string($0.key))]) })),
            ])
        case .contentErased(let event):
            return event.json
        }
    }

    /// Decodes an event read from the log. `recordedAt` stands in for fields older events lack
    /// (a close without `closed_at` closed when it was recorded).
    public init(type: String, data: JSONValue, recordedAt: Date) throws {
        typealias E = EventDecodingError
        switch type {
        case EventType.organisationRegistered:
            self = .organisationRegistered(try Organisation(event: data, type: type))
        case EventType.organisationProfileChanged:
            self = .organisationProfileChanged(try Organisation(event: data, type: type))
        case EventType.credentialIssued:
            self = .credentialIssued(CredentialIssued(
                organisation: try E.string(data, "organisation", type), credential: try E.string(data, "credential", type),
                sha256: try E.string(data, "sha256", type)))
        case EventType.credentialRevoked:
            self = .credentialRevoked(CredentialRevoked(
                organisation: try E.string(data, "organisation", type), credential: try E.string(data, "credential", type)))
        case EventType.consultationOpened:
            self = .consultationOpened(try Consultation(event: data, type: type))
        case EventType.consultationClosed:
            let closedAt = try data["closed_at"].map { value throws -> Date in
                guard let text = value.stringValue, let date = Timestamps.parse(text) else {
                    throw E(type: type, field: "closed_at", message: "an ISO 8601 time")
                }
                return date
            }
            self = .consultationClosed(ConsultationClosed(id: try E.string(data, "id", type), closedAt: closedAt ?? recordedAt))
        case EventType.consultationNamed:
            guard let names = data["names"] else { throw E(type: type, field: "names", message: "an object of languages") }
            do {
                self = .consultationNamed(ConsultationNamed(
                    consultation: try E.string(data, "consultation", type), names: try NameBook(json: names, field: "names")))
            } catch let error as DomainError {
                throw E(type: type, field: error.field, message: error.message)
            }
        case EventType.submissionReceived:
            guard let body = data["submission"], case .object = body else {
                throw E(type: type, field: "submission", message: "an object")
            }
            self = .submissionReceived(SubmissionReceived(try SubmissionKey(data, type: type), body: body))
        case EventType.submissionWithdrawn:
            let id = try SubmissionKey(data, type: type)
            let reason: PersonalText?
            switch data["reason"] {
            case nil, .null?: reason = nil
            case let value?:
                guard let text = PersonalText(json: value) else { throw E(type: type, field: "reason", message: "a string, sealed text or null") }
                reason = text
            }
            self = .submissionWithdrawn(SubmissionWithdrawn(id, reason: reason))
        case EventType.feedbackGiven:
            let id = try SubmissionKey(data, type: type)
            guard let text = data["text"].flatMap(PersonalText.init(json:)) else {
                throw E(type: type, field: "text", message: "a string or sealed text")
            }
            self = .feedbackGiven(FeedbackGiven(id, text: text))
        case EventType.outcomePublished:
            guard case .array(let entries)? = data["cites"] else { throw E(type: type, field: "cites", message: "a list") }
            var cites: [Citation] = []
            for entry in entries {
                cites.append(Citation(organisation: try E.string(entry, "organisation", type), key: try E.string(entry, "key", type)))
            }
            self = .outcomePublished(OutcomePublished(
                consultation: try E.string(data, "consultation", type), summary: try E.string(data, "summary", type), cites: cites))
        case EventType.contentErased:
            self = .contentErased(try ContentErased(json: data, type: type))
        default:
            throw E(type: type, field: nil, message: "not an event type of consultd")
        }
    }

    /// Decodes an event's data as the log prints it.
    public init(type: String, data text: String, recordedAt: Date) throws {
        let value: JSONValue
        do {
            value = try JSONParser.eventData.parse(text)
        } catch {
            throw EventDecodingError(type: type, field: nil, message: "data is not JSON (\(error))")
        }
        try self.init(type: type, data: value, recordedAt: recordedAt)
    }
}

/// An event whose data does not have its type's shape: the log holds something no writer of
/// consultd wrote. Names the type and the field at fault.
public struct EventDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let type: String
    public let field: String?
    public let message: String

    public var description: String { "\(type)\(field.map { ".\($0)" } ?? ""): \(message)" }

    static func string(_ data: JSONValue, _ field: String, _ type: String) throws -> String {
        guard let value = data[field]?.stringValue else {
            throw EventDecodingError(type: type, field: field, message: "a string")
        }
        return value
    }
}

extension JSONParser {
    /// For event data read back from the log: already checked on the way in, so the bounds are looser.
    public static let eventData: JSONParser = {
        var parser = JSONParser()
        parser.maxDepth = 64
        parser.maxNumberLength = 400
        return parser
    }()
}
