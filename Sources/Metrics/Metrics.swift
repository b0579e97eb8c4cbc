import Domain
import Foundation
import LineProtocol

/// The metrics of one consultation as of a log position (SPEC.md, "Metrics"; docs/METRICS.md).
/// A value that cannot be computed (nothing to divide by) is nil, shown as null.
public struct ConsultationMetrics: Equatable, Sendable {
    /// One dimension's representativeness figures.
    public struct Dimension: Equatable, Sendable {
        public var name: String
        /// Submissions that list at least one group for this dimension.
        public var respondents: Int
        /// Baseline groups, then "other" (groups outside the baseline), by name.
        public var voiceShare: [String: Double]
        public var baseline: [String: Double]
        public var representationRatio: [String: Double?]
        public var dissimilarity: Double?
        public var representativeness: Double?
        public var coverage: Double?
        /// Baseline groups with representation ratio under the policy's `min_ratio`, worst first.
        public var underrepresented: [String]
    }

    public var consultation: String
    public var position: Int64
    public var submissions: Int
    public var organisations: Int
    public var affectedLedShare: Double?
    public var localNationalShare: Double?
    public var dimensions: [Dimension]
    public var concentrationHHI: Double?
    public var effectiveVoices: Double?
    public var feedbackRate: Double?
    public var medianDaysToFeedback: Double?
    public var influenceRate: Double?
    public var stageCoverage: Double?
    public var languageCoverage: Double?

    public static let affectedLeadership: Set<String> = ["refugees", "migrants", "stateless", "diaspora"]

    /// Computes the metrics of `consultation` from `fold` (nil when the consultation is unknown there),
    /// in time independent of its number of submissions.
    public init?(consultation id: String, fold: LogFold, minRatio: Double) {
        guard let consultation = fold.registry.consultations[id] else { return nil }
        let tally = fold.tallies[id] ?? Tally()
        let n = tally.active
        func share(_ count: Int, of total: Int) -> Double? { total == 0 ? nil : Double(count) / Double(total) }

        self.consultation = id
        position = fold.position
        submissions = n
        // Sorted, so that sums of floating-point terms are added in one order on every run.
        let perOrganisation = tally.organisations.filter { $0.value.active > 0 }.sorted { $0.key < $1.key }.map(\.value.active)
        organisations = perOrganisation.count
        affectedLedShare = share(tally.affectedLed, of: n)
        localNationalShare = share(tally.localNational, of: n)

        var listings: [String: [String: [Int: Int]]] = [:]
        for (listing, count) in tally.listings where count > 0 {
            listings[listing.dimension, default: [:]][listing.group, default: [:]][listing.among] = count
        }
        dimensions = consultation.dimensions.map { name in
            Self.dimension(
                name, baseline: consultation.baseline[name]!, respondents: tally.respondents[name] ?? 0,
                listings: listings[name] ?? [:], minRatio: minRatio)
        }

        if n > 0 {
            let hhi = perOrganisation.reduce(0.0) { $0 + pow(Double($1) / Double(n), 2) }
            concentrationHHI = hhi
            effectiveVoices = 1 / hhi
        }
        feedbackRate = share(tally.withFeedback, of: n)
        medianDaysToFeedback = Self.median(tally.feedbackDays)
        if fold.outcomes[id] != nil {
            influenceRate = share(tally.cited, of: n)
        }
        stageCoverage = share(consultation.stages.filter { (tally.stages[$0] ?? 0) > 0 }.count, of: consultation.stages.count)
        let languagesUsed = Set(tally.languages.filter { $0.value > 0 }.keys.map(Self.primaryLanguage))
        languageCoverage = share(
            consultation.languages.filter { languagesUsed.contains(Self.primaryLanguage($0)) }.count,
            of: consultation.languages.count)
    }

    /// "ar-SY" and "AR" both count for "ar": coverage is about the language, not the region.
    static func primaryLanguage(_ tag: String) -> String {
        String(tag.split(separator: "-").first ?? "").lowercased()
    }

    /// One dimension's figures from its listings: group → n → submissions listing it among n groups.
    static func dimension(
        _ name: String, baseline: [String: Double], respondents: Int, listings: [String: [Int: Int]], minRatio: Double
    ) -> Dimension {
        var weights: [String: Double] = [:]
        for group in listings.keys.sorted() {
            let weight = listings[group]!.sorted { $0.key < $1.key }.reduce(0.0) { $0 + Double($1.value) / Double($1.key) }
            weights[baseline[group] != nil ? group : "other", default: 0] += weight
        }
        var result = Dimension(
            name: name, respondents: respondents, voiceShare: [:], baseline: baseline, representationRatio: [:],
            dissimilarity: nil, representativeness: nil, coverage: nil, underrepresented: [])
        guard respondents > 0 else { return result }
        for group in baseline.keys.sorted() + ["other"] {
            result.voiceShare[group] = (weights[group] ?? 0) / Double(respondents)
        }
        for (group, share) in baseline {
            result.representationRatio[group] = share == 0 ? .some(nil) : .some(result.voiceShare[group]! / share)
        }
        let dissimilarity = 0.5 * result.voiceShare.sorted { $0.key < $1.key }.reduce(0.0) { sum, entry in sum + abs(entry.value - (baseline[entry.key] ?? 0)) }
        result.dissimilarity = dissimilarity
        result.representativeness = 1 - dissimilarity
        result.coverage = Double(baseline.keys.filter { result.voiceShare[$0]! > 0 }.count) / Double(baseline.count)
        result.underrepresented = baseline.keys
            .compactMap { group -> (String, Double)? in
                guard let ratio = result.representationRatio[group] ?? nil, ratio < minRatio else { return nil }
                return (group, ratio)
            }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map(\.0)
        return result
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The metrics as JSON, keyed by SPEC.md's names.
    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.map { .number(Self.format($0)) } ?? .null }
        func map(_ values: [String: Double?]) -> JSONValue {
            .object(values.keys.sorted().map { ($0, number(values[$0]!)) })
        }
        func perDimension(_ value: (Dimension) -> JSONValue) -> JSONValue {
            .object(dimensions.map { ($0.name, value($0)) })
        }
        return .object([
            ("consultation", .string(consultation)), ("position", .number(String(position))),
            ("submissions", .number(String(submissions))), ("organisations", .number(String(organisations))),
            ("affected_led_share", number(affectedLedShare)), ("local_national_share", number(localNationalShare)),
            ("voice_share", perDimension { map($0.voiceShare.mapValues { .some($0) }) }),
            ("representation_ratio", perDimension { map($0.representationRatio) }),
            ("dissimilarity", perDimension { number($0.dissimilarity) }),
            ("representativeness", perDimension { number($0.representativeness) }),
            ("coverage", perDimension { number($0.coverage) }),
            ("underrepresented", perDimension { .array($0.underrepresented.map(JSONValue.string)) }),
            ("concentration_hhi", number(concentrationHHI)), ("effective_voices", number(effectiveVoices)),
            ("feedback_rate", number(feedbackRate)), ("median_days_to_feedback", number(medianDaysToFeedback)),
            ("influence_rate", number(influenceRate)), ("stage_coverage", number(stageCoverage)),
            ("language_coverage", number(languageCoverage)),
        ])
    }

    /// Six decimals, trailing zeros dropped: stable text for the same value on every machine.
    public static func format(_ value: Double) -> String {
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }
}
