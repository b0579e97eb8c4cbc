import Foundation

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

    /// True for the event types the registry folds.
    public static let folds = Set(eventTypes)

    public init() {}

    /// Applies the event at `position` (nil for a type the registry does not fold); events at or
    /// before `position` are ignored, so overlapping catch-ups are harmless.
    public mutating func apply(position: Int64, _ event: DomainEvent?) {
        guard position > self.position else { return }
        self.position = position
        guard let event else { return }
        switch event {
        case .organisationRegistered(let organisation):
            organisations[organisation.id] = organisation
        case .organisationProfileChanged(let organisation):
            if organisations[organisation.id] != nil { organisations[organisation.id] = organisation }
        case .credentialIssued(let issued):
            credentials[issued.organisation, default: [:]][issued.credential] = issued.sha256
        case .credentialRevoked(let revoked):
            credentials[revoked.organisation]?[revoked.credential] = nil
        case .consultationOpened(let consultation):
            consultations[consultation.id] = consultation
        case .consultationClosed(let closed):
            consultations[closed.id]?.closedAt = closed.closedAt
        // Names are for reports, which read them from the consultation's stream as of their position.
        case .consultationNamed, .submissionReceived, .submissionWithdrawn, .feedbackGiven, .outcomePublished, .contentErased:
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

    /// True when `organisation` holds at least one live credential: what a client certificate needs
    /// to stand in for a token, so that revoking an organisation's credentials shuts it out entirely.
    public func hasLiveCredential(_ organisation: String) -> Bool {
        credentials[organisation]?.isEmpty == false
    }

    /// Consultations open at `now`, by id.
    public func openConsultations(at now: Date) -> [Consultation] {
        consultations.values.filter { $0.isOpen(at: now) }.sorted { $0.id < $1.id }
    }
}
