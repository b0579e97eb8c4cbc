import Domain
import Foundation
import JSON

/// The metrics of one consultation as of a log position (SPEC.md, "Metrics"; docs/METRICS.md).
/// A value that cannot be computed (nothing to divide by) is nil, shown as null.
public struct ConsultationMetrics: Equatable, Sendable {
    /// One dimension's representativeness figures.
    public struct Dimension: Equatable, Sendable {
        public var name: String
        /// Submissions that list at least one group for this dimension.
        public var respondents: Int
        /// Submissions listing each baseline group (0 when none did), and "other" (any group outside
        /// the baseline: a submission listing two such counts twice): what suppression judges.
        public var listed: [String: Int] = [:]
        /// Baseline groups, then "other" (groups outside the baseline), by name.
        public var voiceShare: [String: Double]
        public var baseline: [String: Double]
        public var representationRatio: [String: Double?]
        public var dissimilarity: Double?
        public var representativeness: Double?
        public var coverage: Double?
        /// Baseline groups with representation ratio under the policy's `min_ratio`, worst first.
        public var underrepresented: [String]
        /// `representativeness` and `coverage` exactly (the Doubles are these, rounded to the nearest
        /// binary64): what the audit judges.
        public var exactRepresentativeness: Rational?
        public var exactCoverage: Rational?
    }

    /// The values the audit judges, exactly (see `Rational`). Each Double above is the nearest
    /// binary64 to its exact value here.
    public struct Exact: Equatable, Sendable {
        public var affectedLedShare: Rational?
        public var localNationalShare: Rational?
        public var concentrationHHI: Rational?
        public var effectiveVoices: Rational?
        public var feedbackRate: Rational?
        public var influenceRate: Rational?
        public var stageCoverage: Rational?
        public var languageCoverage: Rational?
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
    public var exact = Exact()

    public static let affectedLeadership: Set<String> = ["refugees", "migrants", "stateless", "diaspora"]

    /// Computes the metrics of `consultation` from `fold` (nil when the consultation is unknown there),
    /// in time independent of its number of submissions.
    public init?(consultation id: String, fold: LogFold, minRatio: Double) {
        guard let consultation = fold.registry.consultations[id] else { return nil }
        let tally = fold.tallies[id] ?? Tally()
        let n = tally.active
        func share(_ count: Int, of total: Int) -> Rational? { total == 0 ? nil : Rational(count, total) }

        self.consultation = id
        position = fold.position
        submissions = n
        let perOrganisation = tally.organisations.values.map(\.active).filter { $0 > 0 }
        organisations = perOrganisation.count
        exact.affectedLedShare = share(tally.affectedLed, of: n)
        exact.localNationalShare = share(tally.localNational, of: n)

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
            // HHI = Σ (n_i / N)² = Σ n_i² / N², effective voices = N² / Σ n_i²: ratios of integers.
            let squares = perOrganisation.reduce(Rational.zero) { $0 + Rational($1) * Rational($1) }
            let total = Rational(n) * Rational(n)
            exact.concentrationHHI = squares / total
            exact.effectiveVoices = total / squares
        }
        exact.feedbackRate = share(tally.withFeedback, of: n)
        medianDaysToFeedback = Self.median(tally.feedbackDays)
        if fold.outcomes[id] != nil {
            exact.influenceRate = share(tally.cited, of: n)
        }
        exact.stageCoverage = share(
            consultation.stages.filter { (tally.stages[$0] ?? 0) > 0 }.count, of: consultation.stages.count)
        let used = Set(tally.languages.filter { $0.value > 0 }.keys.map { $0.lowercased() })
        let listed = Set(consultation.languages.map { $0.lowercased() })
        exact.languageCoverage = share(
            listed.filter { language in used.contains { Self.languageTag($0, isUsedFor: language) } }.count, of: listed.count)

        affectedLedShare = exact.affectedLedShare?.double
        localNationalShare = exact.localNationalShare?.double
        concentrationHHI = exact.concentrationHHI?.double
        effectiveVoices = exact.effectiveVoices?.double
        feedbackRate = exact.feedbackRate?.double
        influenceRate = exact.influenceRate?.double
        stageCoverage = exact.stageCoverage?.double
        languageCoverage = exact.languageCoverage?.double
    }

    /// RFC 4647 basic filtering, both tags lower case: a submission's `tag` uses the listed `language`
    /// when it is that tag or extends it with subtags (`ar-sy` uses `ar`; `pt-pt` does not use `pt-br`,
    /// nor `ptx` `pt`).
    static func languageTag(_ tag: String, isUsedFor language: String) -> Bool {
        tag == language || (tag.count > language.count && tag.hasPrefix(language + "-"))
    }

    /// One dimension's figures from its listings: group → n → submissions listing it among n groups.
    /// Computed exactly (weights 1/n, baseline shares as the decimals given), then rounded.
    static func dimension(
        _ name: String, baseline: [String: Double], respondents: Int, listings: [String: [Int: Int]], minRatio: Double
    ) -> Dimension {
        var weights: [String: Rational] = [:]
        var listed = baseline.mapValues { _ in 0 }
        for (group, counts) in listings {
            let weight = counts.reduce(Rational.zero) { $0 + Rational($1.value, $1.key) }
            let key = baseline[group] != nil ? group : "other"
            weights[key] = (weights[key] ?? .zero) + weight
            listed[key, default: 0] += counts.values.reduce(0, +)
        }
        var result = Dimension(
            name: name, respondents: respondents, listed: listed, voiceShare: [:], baseline: baseline, representationRatio: [:],
            dissimilarity: nil, representativeness: nil, coverage: nil, underrepresented: [])
        guard respondents > 0 else { return result }
        let exactBaseline = baseline.mapValues { Rational(shortestDecimal: $0) ?? .zero }
        var voice: [String: Rational] = [:]
        for group in Array(baseline.keys) + ["other"] {
            voice[group] = (weights[group] ?? .zero) / Rational(respondents)
        }
        result.voiceShare = voice.mapValues(\.double)
        var ratios: [String: Rational] = [:]
        for (group, share) in exactBaseline {
            if share.isZero {
                result.representationRatio[group] = .some(nil)
            } else {
                ratios[group] = voice[group]! / share
                result.representationRatio[group] = .some(ratios[group]!.double)
            }
        }
        let dissimilarity = Rational(1, 2) * voice.reduce(Rational.zero) { sum, entry in
            sum + (entry.value - (exactBaseline[entry.key] ?? .zero)).magnitude
        }
        result.dissimilarity = dissimilarity.double
        result.exactRepresentativeness = .one - dissimilarity
        result.representativeness = result.exactRepresentativeness!.double
        result.exactCoverage = Rational(baseline.keys.filter { !voice[$0]!.isZero }.count, baseline.count)
        result.coverage = result.exactCoverage!.double
        let limit = Rational(shortestDecimal: minRatio) ?? .zero
        result.underrepresented = ratios.filter { $0.value < limit }
            .sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }
            .map(\.key)
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
