import Domain
import EventRecords
import Foundation
import JSON

/// What the fold needs of one event. Read straight from the log with only these fields extracted
/// (see `LogReader` in Projections), or made from a whole `RecordedEvent`; both give the same value.
public struct FoldEvent: Sendable {
    public var position: Int64
    public var type: String
    public var recordedAt: Date
    /// `data.organisation`, `data.consultation`, `data.key` (submissions, withdrawals, feedback).
    public var organisation: String?
    public var consultation: String?
    public var key: String?
    /// `data.submission.stage`, `.language` (submissions).
    public var stage: String?
    public var language: String?
    /// `data.submission.represents`: dimension → the groups listed, each once (see `groups(_:)`).
    public var represents: [String: [String]]
    /// The whole event, typed, only for the types in `LogFold.wholeDataTypes` (rare: registry events, outcomes).
    public var event: DomainEvent?

    public init(
        position: Int64, type: String, recordedAt: Date, organisation: String? = nil, consultation: String? = nil,
        key: String? = nil, stage: String? = nil, language: String? = nil, represents: [String: [String]] = [:],
        event: DomainEvent? = nil
    ) {
        self.position = position
        self.type = type
        self.recordedAt = recordedAt
        self.organisation = organisation
        self.consultation = consultation
        self.key = key
        self.stage = stage
        self.language = language
        self.represents = represents
        self.event = event
    }

    /// The fold's view of a whole recorded event, through the typed decoder (the streamed path of
    /// `LogReader` extracts the same fields in SQL; the projection tests check that both agree).
    public init(_ recorded: RecordedEvent) throws {
        let event = try recorded.decoded()
        var submission: SubmissionKey?
        var body: JSONValue?
        var consultation: String?
        switch event {
        case .submissionReceived(let received):
            submission = received.submission
            body = received.body
        case .submissionWithdrawn(let withdrawn): submission = withdrawn.submission
        case .feedbackGiven(let feedback): submission = feedback.submission
        case .outcomePublished(let outcome): consultation = outcome.consultation
        default: break
        }
        self.init(
            position: recorded.position, type: recorded.type, recordedAt: recorded.recordedAt,
            organisation: submission?.organisation, consultation: submission?.consultation ?? consultation, key: submission?.key,
            stage: body?["stage"]?.stringValue, language: body?["language"]?.stringValue, represents: Self.groups(body?["represents"]),
            event: LogFold.wholeDataTypes.contains(recorded.type) ? event : nil)
    }

    /// A submission's `represents` as dimension → groups; a group listed twice counts once, and
    /// anything that is not a list of strings counts as no group.
    public static func groups(_ represents: JSONValue?) -> [String: [String]] {
        guard case .object(let dimensions)? = represents else { return [:] }
        var result: [String: [String]] = [:]
        for (dimension, groups) in dimensions {
            var seen = Set<String>()
            result[dimension] = (groups.stringArray ?? []).filter { seen.insert($0).inserted }
        }
        return result
    }
}

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
    /// Dimension → the groups listed, each once.
    public let represents: [String: [String]]
    public var withdrawn = false
    public var firstFeedbackAt: Date?
}

/// A submission as the fold keeps it (see `LogFold.stored`): 56 bytes, texts by number.
struct StoredSubmission: Sendable {
    let position: Int64
    let receivedAt: Date
    let represents: [String: [String]]
    var firstFeedbackAt: Date?
    /// Index into `LogFold.profiles`; -1 when the organisation was not registered.
    let profile: Int32
    /// Indexes into `LogFold.words`.
    let stage: Int32
    let language: Int32
    var withdrawn = false
}

/// Running totals of one consultation's submissions that count (not withdrawn): the metrics are
/// computed from these in time independent of the number of submissions, so the projector's work
/// per write does not grow with the log.
struct Tally: Codable, Sendable {
    struct PerOrganisation: Codable, Sendable {
        var active = 0
        var withdrawn = 0
        var withFeedback = 0
        var cited = 0
    }

    /// A group of a dimension, listed among `among` groups by one submission.
    struct Listing: Codable, Hashable, Sendable {
        let dimension: String
        let group: String
        let among: Int
    }

    var active = 0
    var organisations: [String: PerOrganisation] = [:]
    var affectedLed = 0
    var localNational = 0
    /// Dimension → submissions listing at least one group.
    var respondents: [String: Int] = [:]
    /// Submissions that listed a group of a dimension among n groups (each weighs 1/n). Integer
    /// counts keep the weights exact whatever the order of additions and withdrawals.
    var listings: [Listing: Int] = [:]
    var stages: [String: Int] = [:]
    /// By language tag as given (coverage matches them to the listed languages, see `ConsultationMetrics`).
    var languages: [String: Int] = [:]
    var withFeedback = 0
    var feedbackDays: [Double] = []
    var cited = 0

    /// Adds (`sign` 1) or removes (`sign` -1) an active submission.
    mutating func count(_ record: SubmissionRecord, cited isCited: Bool, sign: Int) {
        active += sign
        organisations[record.organisation, default: PerOrganisation()].active += sign
        if let profile = record.profile {
            if profile.leadership.contains(where: ConsultationMetrics.affectedLeadership.contains) { affectedLed += sign }
            if profile.level == "local" || profile.level == "national" { localNational += sign }
        }
        for (dimension, groups) in record.represents where !groups.isEmpty {
            respondents[dimension, default: 0] += sign
            for group in groups { listings[Listing(dimension: dimension, group: group, among: groups.count), default: 0] += sign }
        }
        stages[record.stage, default: 0] += sign
        languages[record.language, default: 0] += sign
        if let feedback = record.firstFeedbackAt { countFeedback(record, at: feedback, sign: sign) }
        if isCited { countCitation(record, sign: sign) }
    }

    mutating func countFeedback(_ record: SubmissionRecord, at time: Date, sign: Int) {
        withFeedback += sign
        organisations[record.organisation, default: PerOrganisation()].withFeedback += sign
        let days = time.timeIntervalSince(record.receivedAt) / 86_400
        if sign > 0 {
            feedbackDays.append(days)
        } else if let index = feedbackDays.firstIndex(of: days) {
            feedbackDays.remove(at: index)
        }
    }

    mutating func countCitation(_ record: SubmissionRecord, sign: Int) {
        cited += sign
        organisations[record.organisation, default: PerOrganisation()].cited += sign
    }
}

/// The state of the log folded up to a position: everything the metrics are computed from.
/// The same fold serves the live numbers and `--as-of`, so a position always gives the same numbers.
public struct LogFold: Sendable {
    public private(set) var position: Int64 = 0
    /// The time of the last event folded: the "now" of every judgement made as of this position.
    public private(set) var time = Date(timeIntervalSince1970: 0)
    public private(set) var registry = Registry()
    /// Every submission, compact (a large log holds millions): `index` finds one in `stored`;
    /// organisation, consultation and key are in the index's key, texts are numbered in `words`.
    private var index: [SubmissionKey: Int32] = [:]
    private var stored: ContiguousArray<StoredSubmission> = []
    private var words: [String] = []
    private var wordNumbers: [String: Int32] = [:]
    /// Each organisation profile as registered or changed, once; `currentProfile` indexes the latest.
    private var profiles: [Organisation] = []
    private var currentProfile: [String: Int32] = [:]
    /// Per organisation, the position of each profile change and its index in `profiles`: a
    /// submission recalled from the log (`remember`) gets the profile it was made under.
    private var profileHistory: [String: [(position: Int64, profile: Int32)]] = [:]
    /// The latest published outcome's citations per consultation, as "organisation/key".
    public private(set) var outcomes: [String: Set<String>] = [:]
    /// Per consultation.
    private(set) var tallies: [String: Tally] = [:]

    /// The event types whose whole data the fold reads; of the rest it needs only the fields of `FoldEvent`.
    public static let wholeDataTypes = Set(Registry.eventTypes + [EventType.outcomePublished])

    public init() {}

    /// Makes room for `count` more submissions at once (the fold of a large log then never rehashes).
    public mutating func reserveCapacity(_ count: Int) {
        // Grown geometrically: the projector calls this on every wake-up with a few events, and an
        // exact reservation would copy the whole array each time.
        let needed = stored.count + count
        guard needed > stored.capacity else { return }
        let capacity = max(needed, stored.capacity * 2)
        index.reserveCapacity(capacity)
        stored.reserveCapacity(capacity)
    }

    /// Folds one whole recorded event (see `apply(_: FoldEvent)`); throws if it does not decode.
    @discardableResult
    public mutating func apply(_ event: RecordedEvent) throws -> String? {
        guard event.position > position else { return nil }
        return apply(try FoldEvent(event))
    }

    /// Folds events in position order; events at or before `position` are ignored. Returns the
    /// consultation whose numbers the event may change, if any.
    @discardableResult
    public mutating func apply(_ event: FoldEvent) -> String? {
        guard event.position > position else { return nil }
        registry.apply(position: event.position, event.event)
        switch event.event {
        case .organisationRegistered(let changed)?, .organisationProfileChanged(let changed)?:
            // The profile as the registry now holds it (a change to an unknown organisation is ignored).
            if let profile = registry.organisations[changed.id], currentProfile[changed.id].map({ profiles[Int($0)] }) != profile {
                currentProfile[changed.id] = Int32(profiles.count)
                profileHistory[changed.id, default: []].append((event.position, Int32(profiles.count)))
                profiles.append(profile)
            }
        default:
            break
        }
        position = event.position
        time = event.recordedAt
        switch event.event {
        case .consultationOpened(let consultation)?: return consultation.id
        case .consultationClosed(let closed)?: return closed.id
        case .outcomePublished(let outcome)?: return publish(outcome)
        default: break
        }
        guard let consultation = event.consultation else { return nil }
        let id = SubmissionKey(organisation: event.organisation ?? "", consultation: consultation, key: event.key ?? "")
        switch event.type {
        case EventType.submissionReceived:
            // One hash of the id, not two (a look-up, then an insert): this is most of a rebuild's work.
            if let earlier = index.updateValue(Int32(stored.count), forKey: id) {
                index[id] = earlier  // received before: the first receipt counts
                return nil
            }
            let submission = StoredSubmission(
                position: event.position, receivedAt: event.recordedAt, represents: event.represents,
                profile: currentProfile[id.organisation] ?? -1, stage: number(event.stage ?? ""), language: number(event.language ?? ""))
            stored.append(submission)
            let record = record(id, submission)
            tallies[consultation, default: Tally()].count(record, cited: isCited(record), sign: 1)
        case EventType.submissionWithdrawn:
            guard let at = slot(of: id), !stored[at].withdrawn else { return nil }
            let submission = stored[at]
            stored[at].withdrawn = true
            let record = record(id, submission)
            tallies[consultation]!.count(record, cited: isCited(record), sign: -1)
            tallies[consultation]!.organisations[id.organisation]!.withdrawn += 1
        case EventType.feedbackGiven:
            guard let at = slot(of: id), stored[at].firstFeedbackAt == nil else { return nil }
            let submission = stored[at]
            stored[at].firstFeedbackAt = event.recordedAt
            if !submission.withdrawn { tallies[consultation]!.countFeedback(record(id, submission), at: event.recordedAt, sign: 1) }
        default:
            return nil
        }
        return consultation
    }

    public func isCited(_ record: SubmissionRecord) -> Bool {
        outcomes[record.consultation]?.contains("\(record.organisation)/\(record.key)") ?? false
    }

    /// The latest outcome replaces the citations of the one before.
    private mutating func publish(_ outcome: OutcomePublished) -> String? {
        let consultation = outcome.consultation
        let cited = Set(outcome.cites.map { "\($0.organisation)/\($0.key)" })
        let before = outcomes[consultation] ?? []
        outcomes[consultation] = cited
        for (citations, sign) in [(before.subtracting(cited), -1), (cited.subtracting(before), 1)] {
            for citation in citations {
                guard let id = Self.citedID(citation, in: consultation), let at = slot(of: id), !stored[at].withdrawn else { continue }
                tallies[consultation]!.countCitation(record(id, stored[at]), sign: sign)
            }
        }
        return consultation
    }

    // MARK: Bounded memory (the projector): submissions live in the log, not here

    /// Drops every submission held (the tallies keep what the metrics need). Afterwards the fold
    /// needs `remember` before events that refer to earlier submissions (see `submissionsNeeded`).
    public mutating func forgetSubmissions() {
        index = [:]
        stored = []
    }

    /// The submissions that `events` refer to (withdrawals, feedback, an outcome's citations old
    /// and new) and that neither this fold holds nor `events` receive first.
    public func submissionsNeeded(by events: [FoldEvent]) -> Set<SubmissionKey> {
        var received = Set<SubmissionKey>()
        var needed = Set<SubmissionKey>()
        for event in events {
            if case .outcomePublished(let outcome)? = event.event {
                let citations = outcome.cites.map { SubmissionKey(organisation: $0.organisation, consultation: outcome.consultation, key: $0.key) }
                let before = (outcomes[outcome.consultation] ?? []).compactMap { Self.citedID($0, in: outcome.consultation) }
                for id in citations + before where index[id] == nil && !received.contains(id) { needed.insert(id) }
                continue
            }
            guard let consultation = event.consultation else { continue }
            let id = SubmissionKey(organisation: event.organisation ?? "", consultation: consultation, key: event.key ?? "")
            switch event.type {
            case EventType.submissionReceived: received.insert(id)
            case EventType.submissionWithdrawn, EventType.feedbackGiven:
                if index[id] == nil && !received.contains(id) { needed.insert(id) }
            default: break
            }
        }
        return needed
    }

    /// Takes in, without counting them again, the earlier events of submissions' streams (their
    /// receipt, withdrawal, feedback) read back from the log, in position order.
    public mutating func remember(_ events: [FoldEvent]) {
        for event in events where event.position <= position {
            guard let consultation = event.consultation else { continue }
            let id = SubmissionKey(organisation: event.organisation ?? "", consultation: consultation, key: event.key ?? "")
            switch event.type {
            case EventType.submissionReceived where index[id] == nil:
                let profile = profileHistory[id.organisation]?.last { $0.position < event.position }?.profile ?? -1
                index[id] = Int32(stored.count)
                stored.append(StoredSubmission(
                    position: event.position, receivedAt: event.recordedAt, represents: event.represents, profile: profile,
                    stage: number(event.stage ?? ""), language: number(event.language ?? "")))
            case EventType.submissionWithdrawn:
                if let at = slot(of: id) { stored[at].withdrawn = true }
            case EventType.feedbackGiven:
                if let at = slot(of: id), stored[at].firstFeedbackAt == nil { stored[at].firstFeedbackAt = event.recordedAt }
            default:
                break
            }
        }
    }

    // MARK: Snapshot (the projector resumes from it instead of folding the log again)

    /// The version of `consultationState`'s encoding; a snapshot of another version is not used.
    public static let snapshotFormat = 1

    private struct ConsultationState: Codable {
        var tally: Tally?
        var citations: [String]?
    }

    /// Every consultation the fold holds state for (numbers or an outcome's citations).
    public var consultationsWithState: Set<String> { Set(tallies.keys).union(outcomes.keys) }

    /// What the fold holds of `consultation` beyond the registry, encoded; nil when nothing.
    public func consultationState(_ consultation: String) throws -> Data? {
        guard tallies[consultation] != nil || outcomes[consultation] != nil else { return nil }
        let state = ConsultationState(tally: tallies[consultation], citations: outcomes[consultation].map { $0.sorted() })
        return try JSONEncoder().encode(state)
    }

    /// The fold as of `position` (last event at `time`) without its submissions: the registry from its
    /// consultation and organisation events up to `position`, the rest from `consultationState`.
    public static func restore(
        position: Int64, time: Date, registryEvents: [FoldEvent], states: [String: Data]
    ) throws -> LogFold {
        var fold = LogFold()
        for event in registryEvents where event.position <= position { fold.apply(event) }
        fold.position = position
        fold.time = time
        fold.registry.advance(to: position)
        let decoder = JSONDecoder()
        for (consultation, data) in states {
            let state = try decoder.decode(ConsultationState.self, from: data)
            fold.tallies[consultation] = state.tally
            fold.outcomes[consultation] = state.citations.map(Set.init)
        }
        return fold
    }

    /// "organisation/key" as an outcome's citation is kept, back to an id.
    private static func citedID(_ citation: String, in consultation: String) -> SubmissionKey? {
        guard let slash = citation.firstIndex(of: "/") else { return nil }
        return SubmissionKey(
            organisation: String(citation[..<slash]), consultation: consultation, key: String(citation[citation.index(after: slash)...]))
    }

    /// Where submission `id` is in `stored`, if it was received.
    private func slot(of id: SubmissionKey) -> Int? {
        index[id].map(Int.init)
    }

    func record(_ id: SubmissionKey, _ submission: StoredSubmission) -> SubmissionRecord {
        SubmissionRecord(
            organisation: id.organisation, consultation: id.consultation, key: id.key, position: submission.position,
            receivedAt: submission.receivedAt, profile: submission.profile < 0 ? nil : profiles[Int(submission.profile)],
            stage: words[Int(submission.stage)], language: words[Int(submission.language)], represents: submission.represents,
            withdrawn: submission.withdrawn, firstFeedbackAt: submission.firstFeedbackAt)
    }

    /// Every submission folded, withdrawn ones included (built on demand: for reports and queries).
    public var submissions: [SubmissionRecord] {
        index.map { record($0.key, stored[Int($0.value)]) }.sorted { $0.position < $1.position }
    }

    /// The submissions of `consultation` that count: not withdrawn.
    public func activeSubmissions(of consultation: String) -> [SubmissionRecord] {
        index.filter { $0.key.consultation == consultation && !stored[Int($0.value)].withdrawn }
            .map { record($0.key, stored[Int($0.value)]) }
            .sorted { $0.position < $1.position }
    }

    /// The number of a stage or language tag (few distinct ones: numbers are smaller than strings).
    private mutating func number(_ word: String) -> Int32 {
        if let known = wordNumbers[word] { return known }
        let next = Int32(words.count)
        words.append(word)
        wordNumbers[word] = next
        return next
    }
}
