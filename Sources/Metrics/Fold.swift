import Domain
import EventLog
import Foundation
import LineProtocol

/// One submission as the metrics see it, with its organisation's profile as it stood when it was made.
public struct SubmissionRecord: Equatable, Sendable {
    public let organisation: String
    public let consultation: String
    public let key: String
    public let position: Int64
    public let receivedAt: Date
    /// The organisation's profile at the submission's position (nil if it was never registered).
    public let profile: Organisation?
    public let stage: String
    public let language: String
    public let represents: [String: [String]]
    public var withdrawn = false
    public var firstFeedbackAt: Date?
}

/// The state of the log folded up to a position: everything the metrics are computed from.
/// The same fold serves the live numbers and `--as-of`, so a position always gives the same numbers.
public struct LogFold: Sendable {
    public private(set) var position: Int64 = 0
    /// The time of the last event folded: the "now" of every judgement made as of this position.
    public private(set) var time = Date(timeIntervalSince1970: 0)
    public private(set) var registry = Registry()
    /// By "organisation/consultation/key".
    public private(set) var submissions: [String: SubmissionRecord] = [:]
    /// The latest published outcome's citations per consultation, as "organisation/key".
    public private(set) var outcomes: [String: Set<String>] = [:]

    public init() {}

    static func id(_ organisation: String, _ consultation: String, _ key: String) -> String {
        "\(organisation)/\(consultation)/\(key)"
    }

    /// Folds events in position order; events at or before `position` are ignored. Returns the
    /// consultation whose numbers the event may change, if any.
    @discardableResult
    public mutating func apply(_ event: RecordedEvent) -> String? {
        guard event.position > position else { return nil }
        registry.apply(event)
        position = event.position
        time = event.recordedAt
        guard let data = try? JSONParser.eventData.parse(event.data) else { return nil }
        if event.type == EventType.consultationOpened || event.type == EventType.consultationClosed {
            return data["id"]?.stringValue
        }
        guard let consultation = data["consultation"]?.stringValue else { return nil }
        let organisation = data["organisation"]?.stringValue ?? ""
        let key = data["key"]?.stringValue ?? ""
        let id = Self.id(organisation, consultation, key)
        switch event.type {
        case EventType.submissionReceived:
            guard submissions[id] == nil, let body = data["submission"] else { return nil }
            var represents: [String: [String]] = [:]
            if case .object(let dimensions)? = body["represents"] {
                for (dimension, groups) in dimensions { represents[dimension] = groups.stringArray ?? [] }
            }
            submissions[id] = SubmissionRecord(
                organisation: organisation, consultation: consultation, key: key, position: event.position,
                receivedAt: event.recordedAt, profile: registry.organisations[organisation],
                stage: body["stage"]?.stringValue ?? "", language: body["language"]?.stringValue ?? "",
                represents: represents)
        case EventType.submissionWithdrawn:
            submissions[id]?.withdrawn = true
        case EventType.feedbackGiven:
            if submissions[id] != nil && submissions[id]?.firstFeedbackAt == nil {
                submissions[id]?.firstFeedbackAt = event.recordedAt
            }
        case EventType.outcomePublished:
            guard case .array(let cites)? = data["cites"] else { return nil }
            outcomes[consultation] = Set(cites.compactMap { cite in
                guard let organisation = cite["organisation"]?.stringValue, let key = cite["key"]?.stringValue else { return nil }
                return "\(organisation)/\(key)"
            })
        default:
            return nil
        }
        return consultation
    }

    /// The submissions of `consultation` that count: not withdrawn.
    public func activeSubmissions(of consultation: String) -> [SubmissionRecord] {
        submissions.values.filter { $0.consultation == consultation && !$0.withdrawn }.sorted { $0.position < $1.position }
    }
}
