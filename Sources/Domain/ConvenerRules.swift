import EventLog
import Foundation
import LineProtocol
import PostgresClient

/// The vocabularies of SPEC.md, and the checks conveners' commands make before writing anything.
public enum ConvenerRules {
    public static let organisationTypes = [
        "community_based", "ngo", "international_ngo", "faith_based", "trade_union", "academic", "private_sector",
        "local_authority", "nhri", "network", "other",
    ]
    public static let leadership = [
        "refugees", "migrants", "stateless", "diaspora", "women", "youth", "persons_with_disabilities",
    ]
    public static let levels = ["local", "national", "regional", "global"]
    public static let stages = ["design", "implementation", "monitoring", "evaluation"]
    /// Shares in a dimension must sum to 1 within this.
    public static let shareTolerance = 1e-6

    /// Why a convener's input was refused; the message names the field.
    public struct Refusal: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static func check(_ organisation: Organisation) throws {
        guard Request.isToken(organisation.id) else { throw Refusal("id: 1 to 128 of A-Z a-z 0-9 . _ : -") }
        guard !organisation.name.trimmingCharacters(in: .whitespaces).isEmpty, organisation.name.count <= 200 else {
            throw Refusal("name: 1 to 200 characters")
        }
        guard organisationTypes.contains(organisation.type) else {
            throw Refusal("type: one of \(organisationTypes.joined(separator: ", "))")
        }
        if let unknown = organisation.leadership.first(where: { !leadership.contains($0) }) {
            throw Refusal("leadership: \(unknown) is not one of \(leadership.joined(separator: ", "))")
        }
        guard Set(organisation.leadership).count == organisation.leadership.count else {
            throw Refusal("leadership: listed twice")
        }
        guard levels.contains(organisation.level) else { throw Refusal("level: one of \(levels.joined(separator: ", "))") }
        guard organisation.country.count == 3, organisation.country.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw Refusal("country: an ISO 3166-1 alpha-3 code such as JOR")
        }
    }

    /// The profile `current` becomes with the given fields changed (nil keeps a field; an empty
    /// `leadership` clears it), checked exactly as a registration is (`check(_: Organisation)`).
    public static func changedProfile(
        _ current: Organisation, name: String? = nil, type: String? = nil, leadership: [String]? = nil,
        level: String? = nil, country: String? = nil
    ) throws -> Organisation {
        let profile = Organisation(
            id: current.id, name: name ?? current.name, type: type ?? current.type,
            leadership: leadership ?? current.leadership, level: level ?? current.level, country: country ?? current.country)
        try check(profile)
        return profile
    }

    public static func check(_ consultation: Consultation) throws {
        guard Request.isToken(consultation.id) else { throw Refusal("id: 1 to 128 of A-Z a-z 0-9 . _ : -") }
        guard !consultation.title.trimmingCharacters(in: .whitespaces).isEmpty else { throw Refusal("title: required") }
        guard !consultation.convener.trimmingCharacters(in: .whitespaces).isEmpty else { throw Refusal("convener: required") }
        guard consultation.closesAt > consultation.opensAt else { throw Refusal("closes_at: must be after opens_at") }
        guard !consultation.stages.isEmpty, Set(consultation.stages).count == consultation.stages.count else {
            throw Refusal("stages: one or more of \(stages.joined(separator: ", ")), each once")
        }
        if let unknown = consultation.stages.first(where: { !stages.contains($0) }) {
            throw Refusal("stages: \(unknown) is not one of \(stages.joined(separator: ", "))")
        }
        guard !consultation.languages.isEmpty, consultation.languages.allSatisfy(SubmissionRules.isLanguageTag) else {
            throw Refusal("languages: one or more BCP 47 tags such as ar, fr-CA")
        }
        guard !consultation.baseline.isEmpty else { throw Refusal("baseline: at least one dimension") }
        for dimension in consultation.dimensions {
            let shares = consultation.baseline[dimension]!
            guard Request.isToken(dimension), !shares.isEmpty else {
                throw Refusal("baseline.\(dimension): a dimension name and at least one group")
            }
            if let bad = shares.first(where: { !($0.value >= 0 && $0.value <= 1) }) {
                throw Refusal("baseline.\(dimension).\(bad.key): a share from 0 to 1")
            }
            if shares.keys.contains("other") {
                throw Refusal("baseline.\(dimension).other: reserved for groups outside the baseline")
            }
            let sum = shares.values.reduce(0, +)
            guard abs(sum - 1) <= shareTolerance else {
                throw Refusal("baseline.\(dimension): shares sum to \(sum), not 1")
            }
        }
    }
}

extension DomainEvents {
    /// Feedback from the convener to one submission.
    public static func feedbackGiven(organisation: String, consultation: String, key: String, text: String) -> NewEvent {
        NewEvent(
            stream: Streams.feedback(organisation: organisation, consultation: consultation, key: key),
            type: EventType.feedbackGiven,
            data: JSONText(
                JSONValue.object(submissionFields(organisation, consultation, key) + [("text", .string(text))]).serialized))
    }

    /// The published outcome of a consultation and the submissions it cites.
    public static func outcomePublished(consultation: String, summary: String, cites: [(organisation: String, key: String)])
        -> NewEvent
    {
        NewEvent(
            stream: Streams.consultation(consultation), type: EventType.outcomePublished,
            data: JSONText(
                JSONValue.object([
                    ("consultation", .string(consultation)), ("summary", .string(summary)),
                    ("cites", .array(cites.map { .object([("organisation", .string($0.organisation)), ("key", .string($0.key))]) })),
                ]).serialized))
    }
}
