import EventLog
import Foundation
import LineProtocol

/// Organisations, their credentials and consultations, folded from the log. A value type: the
/// server keeps one behind a lock and brings it up to date before it answers from it.
public struct Registry: Sendable {
    /// The log position this registry reflects.
    public private(set) var position: Int64 = 0
    public private(set) var organisations: [String: Organisation] = [:]
    /// Organisation id → credential id → SHA-256 of the token (hex).
    public private(set) var credentials: [String: [String: String]] = [:]
    public private(set) var consultations: [String: Consultation] = [:]

    /// The event types the registry folds; the rest of the log is skipped when catching up.
    public static let eventTypes = [
        EventType.organisationRegistered, EventType.organisationProfileChanged, EventType.credentialIssued, EventType.credentialRevoked,
        EventType.consultationOpened, EventType.consultationClosed,
    ]

    private static let relevant = Set(eventTypes)

    public init() {}

    /// Applies one event; events at or before `position` are ignored, so overlapping catch-ups are harmless.
    public mutating func apply(_ event: RecordedEvent) {
        // Most of the log is submissions: skip their parsing here (the registry does not need them).
        let data = Self.relevant.contains(event.type) ? try? JSONParser.eventData.parse(event.data) : nil
        apply(position: event.position, type: event.type, data: data, recordedAt: event.recordedAt)
    }

    /// Applies one event given its parsed data (nil for the types the registry does not fold).
    public mutating func apply(position: Int64, type: String, data: JSONValue?, recordedAt: Date) {
        guard position > self.position else { return }
        self.position = position
        guard let data else { return }
        switch type {
        case EventType.organisationRegistered:
            if let organisation = Organisation(json: data) { organisations[organisation.id] = organisation }
        case EventType.organisationProfileChanged:
            if let organisation = Organisation(json: data), organisations[organisation.id] != nil {
                organisations[organisation.id] = organisation
            }
        case EventType.credentialIssued:
            if let organisation = data["organisation"]?.stringValue, let credential = data["credential"]?.stringValue,
                let hash = data["sha256"]?.stringValue
            {
                credentials[organisation, default: [:]][credential] = hash
            }
        case EventType.credentialRevoked:
            if let organisation = data["organisation"]?.stringValue, let credential = data["credential"]?.stringValue {
                credentials[organisation]?[credential] = nil
            }
        case EventType.consultationOpened:
            if let consultation = Consultation(json: data) { consultations[consultation.id] = consultation }
        case EventType.consultationClosed:
            if let id = data["id"]?.stringValue {
                consultations[id]?.closedAt = data["closed_at"]?.stringValue.flatMap(Timestamps.parse) ?? recordedAt
            }
        default:
            break
        }
    }

    /// Marks the registry current up to `head` (no relevant events in between).
    public mutating func advance(to head: Int64) {
        position = max(position, head)
    }

    /// True when `token` is a live credential of `organisation`. Every stored hash of the
    /// organisation is compared in constant time, and an unknown organisation costs the same one
    /// comparison, so timing does not tell whether an organisation exists.
    public func authenticate(organisation: String, token: String) -> Bool {
        let presented = Credentials.hash(token)
        let stored = credentials[organisation].map { Array($0.values) } ?? []
        var matched = false
        for hash in stored.isEmpty ? [String(repeating: "0", count: 64)] : stored {
            matched = Credentials.constantTimeEquals(presented, hash) || matched
        }
        return matched && !stored.isEmpty
    }

    /// Consultations open at `now`, by id.
    public func openConsultations(at now: Date) -> [Consultation] {
        consultations.values.filter { $0.isOpen(at: now) }.sorted { $0.id < $1.id }
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
