import EventLog
import Foundation
import LineProtocol
import PostgresClient

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
    /// To one submission, on its `feedback-` stream: `{organisation, consultation, key, text}`.
    public static let feedbackGiven = "FeedbackGiven"
    /// On the consultation's stream: `{summary, cites: [{organisation, key}]}`.
    public static let outcomePublished = "OutcomePublished"
}

/// Stream names (`category-id`). Protocol ARGs never contain `/`, so the separator is unambiguous.
public enum Streams {
    public static func organisation(_ id: String) -> String { "organisation-\(id)" }
    public static func consultation(_ id: String) -> String { "consultation-\(id)" }
    public static func submission(organisation: String, consultation: String, key: String) -> String {
        "submission-\(organisation)/\(consultation)/\(key)"
    }
    public static func feedback(organisation: String, consultation: String, key: String) -> String {
        "feedback-\(organisation)/\(consultation)/\(key)"
    }
}

/// An organisation's profile.
public struct Organisation: Equatable, Sendable {
    public var id: String
    public var name: String
    public var type: String
    public var leadership: [String]
    public var level: String
    public var country: String

    public init(id: String, name: String, type: String, leadership: [String], level: String, country: String) {
        self.id = id
        self.name = name
        self.type = type
        self.leadership = leadership
        self.level = level
        self.country = country
    }

    var json: JSONValue {
        .object([
            ("id", .string(id)), ("name", .string(name)), ("type", .string(type)),
            ("leadership", .array(leadership.map(JSONValue.string))), ("level", .string(level)),
            ("country", .string(country)),
        ])
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let name = json["name"]?.stringValue,
            let type = json["type"]?.stringValue, let level = json["level"]?.stringValue,
            let country = json["country"]?.stringValue
        else { return nil }
        self.init(
            id: id, name: name, type: type, leadership: json["leadership"]?.stringArray ?? [], level: level,
            country: country)
    }
}

/// A consultation as opened by its convener.
public struct Consultation: Equatable, Sendable {
    public var id: String
    public var title: String
    public var convener: String
    public var opensAt: Date
    public var closesAt: Date
    public var stages: [String]
    public var languages: [String]
    /// For each dimension, each group's share of the population (summing to 1).
    public var baseline: [String: [String: Double]]
    /// Set when closed early by command.
    public var closedAt: Date?

    public init(
        id: String, title: String, convener: String, opensAt: Date, closesAt: Date, stages: [String],
        languages: [String], baseline: [String: [String: Double]], closedAt: Date? = nil
    ) {
        self.id = id
        self.title = title
        self.convener = convener
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.stages = stages
        self.languages = languages
        self.baseline = baseline
        self.closedAt = closedAt
    }

    public var dimensions: [String] { baseline.keys.sorted() }

    public func isOpen(at now: Date) -> Bool {
        closedAt == nil && opensAt <= now && now < closesAt
    }

    var json: JSONValue {
        .object([
            ("id", .string(id)), ("title", .string(title)), ("convener", .string(convener)),
            ("opens_at", .string(Timestamps.format(opensAt))), ("closes_at", .string(Timestamps.format(closesAt))),
            ("stages", .array(stages.map(JSONValue.string))), ("languages", .array(languages.map(JSONValue.string))),
            ("baseline", .object(baseline.keys.sorted().map { dimension in
                (dimension, .object(baseline[dimension]!.keys.sorted().map { ($0, .number(String(baseline[dimension]![$0]!))) }))
            })),
        ])
    }

    /// The entry in the `CONSULTATIONS` reply: id, title, closes_at, stages, languages, dimensions.
    public var listing: JSONValue {
        .object([
            ("id", .string(id)), ("title", .string(title)), ("closes_at", .string(Timestamps.format(closesAt))),
            ("stages", .array(stages.map(JSONValue.string))), ("languages", .array(languages.map(JSONValue.string))),
            ("dimensions", .array(dimensions.map(JSONValue.string))),
        ])
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let title = json["title"]?.stringValue,
            let opensAt = json["opens_at"]?.stringValue.flatMap(Timestamps.parse),
            let closesAt = json["closes_at"]?.stringValue.flatMap(Timestamps.parse),
            case .object(let dimensions)? = json["baseline"]
        else { return nil }
        var baseline: [String: [String: Double]] = [:]
        for (dimension, groups) in dimensions {
            guard case .object(let shares) = groups else { return nil }
            var values: [String: Double] = [:]
            for (group, share) in shares {
                guard case .number(let text) = share, let value = Double(text) else { return nil }
                values[group] = value
            }
            baseline[dimension] = values
        }
        self.init(
            id: id, title: title, convener: json["convener"]?.stringValue ?? "", opensAt: opensAt, closesAt: closesAt,
            stages: json["stages"]?.stringArray ?? [], languages: json["languages"]?.stringArray ?? [],
            baseline: baseline)
    }
}

/// ISO 8601 timestamps in UTC, as event data carries them.
public enum Timestamps {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    public static func parse(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }
}

/// Builders for the events the daemon and consultctl append.
public enum DomainEvents {
    public static func organisationRegistered(_ organisation: Organisation) -> NewEvent {
        NewEvent(
            stream: Streams.organisation(organisation.id), type: EventType.organisationRegistered,
            data: JSONText(organisation.json.serialized), expectedVersion: .noStream)
    }

    public static func organisationProfileChanged(_ organisation: Organisation) -> NewEvent {
        NewEvent(
            stream: Streams.organisation(organisation.id), type: EventType.organisationProfileChanged,
            data: JSONText(organisation.json.serialized))
    }

    public static func credentialIssued(organisation: String, credential: String, tokenHash: String) -> NewEvent {
        NewEvent(
            stream: Streams.organisation(organisation), type: EventType.credentialIssued,
            data: JSONText(
                JSONValue.object([
                    ("organisation", .string(organisation)), ("credential", .string(credential)),
                    ("sha256", .string(tokenHash)),
                ]).serialized))
    }

    public static func credentialRevoked(organisation: String, credential: String) -> NewEvent {
        NewEvent(
            stream: Streams.organisation(organisation), type: EventType.credentialRevoked,
            data: JSONText(
                JSONValue.object([("organisation", .string(organisation)), ("credential", .string(credential))]).serialized))
    }

    public static func consultationOpened(_ consultation: Consultation) -> NewEvent {
        NewEvent(
            stream: Streams.consultation(consultation.id), type: EventType.consultationOpened,
            data: JSONText(consultation.json.serialized), expectedVersion: .noStream)
    }

    public static func consultationClosed(id: String, at date: Date) -> NewEvent {
        NewEvent(
            stream: Streams.consultation(id), type: EventType.consultationClosed,
            data: JSONText(JSONValue.object([("id", .string(id)), ("closed_at", .string(Timestamps.format(date)))]).serialized))
    }

    /// The fields every event about one submission carries: whose, in which consultation, which key.
    static func submissionFields(_ organisation: String, _ consultation: String, _ key: String) -> [(String, JSONValue)] {
        [("organisation", .string(organisation)), ("consultation", .string(consultation)), ("key", .string(key))]
    }

    /// The submission as stored; its idempotency key is (organisation, consultation, key), and a
    /// retry is a duplicate exactly when the body has the same JSON value.
    public static func submissionReceived(
        organisation: String, consultation: String, key: String, body: JSONValue, metadata: JSONValue
    ) -> NewEvent {
        let stream = Streams.submission(organisation: organisation, consultation: consultation, key: key)
        return NewEvent(
            stream: stream, type: EventType.submissionReceived,
            data: JSONText(
                JSONValue.object(submissionFields(organisation, consultation, key) + [("submission", body)]).serialized),
            metadata: JSONText(metadata.serialized), idempotencyKey: stream)
    }

    /// A withdrawal; it expects the submission stream at version 1, so a missing submission is a
    /// version conflict at 0, and a repeated withdrawal is a duplicate of the first.
    public static func submissionWithdrawn(
        organisation: String, consultation: String, key: String, reason: String?, metadata: JSONValue
    ) -> NewEvent {
        let stream = Streams.submission(organisation: organisation, consultation: consultation, key: key)
        return NewEvent(
            stream: stream, type: EventType.submissionWithdrawn,
            data: JSONText(
                JSONValue.object(
                    submissionFields(organisation, consultation, key) + [("reason", reason.map(JSONValue.string) ?? .null)]
                ).serialized),
            metadata: JSONText(metadata.serialized), expectedVersion: .exactly(1), idempotencyKey: stream + "#withdrawn")
    }
}
