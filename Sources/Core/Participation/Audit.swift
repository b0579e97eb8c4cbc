import Domain
import Foundation
import JSON

/// The thresholds of the meaningful-engagement audit. The reasons for each default are in docs/METRICS.md.
public struct Policy: Equatable, Sendable {
    public var minRatio = 0.5
    public var affectedLedShare = 0.25
    public var representativeness = 0.8
    public var coverage = 0.8
    public var effectiveVoices = 5.0
    public var feedbackRate = 0.9
    public var feedbackGraceDays = 30.0
    /// influence_rate must be strictly greater than this.
    public var influenceRate = 0.0
    public var stageCoverage = 0.75
    public var windowDays = 28.0
    /// Published reports suppress counts below this, and shares computed from them (docs/PRIVACY.md).
    public var minCell = 5.0
    /// When set, `consultctl retention apply` erases the personal content of consultations closed
    /// longer ago than this many days.
    public var retentionDaysAfterClose: Double?

    public init() {}

    /// Reads a policy file: a JSON object with any of the keys of `policy/default.json`; others are refused.
    public init(json text: String) throws {
        let value = try JSONParser().parse(text)
        guard case .object(let members) = value else { throw PolicyError("a policy is a JSON object") }
        let fields: [String: WritableKeyPath<Policy, Double>] = [
            "min_ratio": \.minRatio, "affected_led_share": \.affectedLedShare,
            "representativeness": \.representativeness, "coverage": \.coverage, "effective_voices": \.effectiveVoices,
            "feedback_rate": \.feedbackRate, "feedback_grace_days": \.feedbackGraceDays, "influence_rate": \.influenceRate,
            "stage_coverage": \.stageCoverage, "window_days": \.windowDays, "min_cell": \.minCell,
        ]
        for (name, member) in members {
            if name == "retention_days_after_close" {
                guard case .number(let text) = member, let days = Double(text), days.isFinite, days >= 0 else {
                    throw PolicyError("\(name): a number of days ≥ 0")
                }
                retentionDaysAfterClose = days
                continue
            }
            guard let path = fields[name] else { throw PolicyError("\(name): not a policy setting") }
            guard case .number(let text) = member, let number = Double(text), number.isFinite, number >= 0 else {
                throw PolicyError("\(name): a number ≥ 0")
            }
            // Thresholds are judged exactly as written: refuse a decimal that a Double cannot carry
            // (its shortest decimal, which the audit compares with, would be another number).
            guard Rational(decimal: text) == Rational(shortestDecimal: number) else {
                throw PolicyError("\(name): \(text) has more significant digits than a threshold can hold (at most 15)")
            }
            self[keyPath: path] = number
        }
    }

    /// The policy in the file at `path`, or the shipped defaults when `path` is nil.
    public static func load(_ path: String?) throws -> Policy {
        guard let path else { return Policy() }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PolicyError("policy: cannot read \(path)")
        }
        do { return try Policy(json: text) } catch let error as PolicyError { throw PolicyError("policy \(path): \(error)") }
    }

    /// How reports name the policy they used.
    public static func name(_ path: String?) -> String { path ?? "default (policy/default.json)" }

    public struct PolicyError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// The audit of one consultation: each criterion judged, and a verdict.
///
/// Judged exactly: each value is the metric's exact `Rational` (a ratio of counts, or sums of such
/// ratios and of baseline shares), each threshold the decimal the policy gives (`Rational(shortestDecimal:)`),
/// and times are compared as the exact values of their binary64 seconds. So a value exactly on its
/// threshold passes (five organisations with one submission each have 5 effective voices, ≥ 5).
public struct Audit: Equatable, Sendable {
    public enum Status: String, Sendable { case pass, fail, insufficientData = "insufficient_data" }

    public struct Criterion: Equatable, Sendable {
        public let name: String
        /// The nearest binary64 to the exact value (what projections store).
        public let value: Double?
        /// How the value is compared, e.g. "≥ 0.25".
        public let threshold: String
        public let status: Status
        public let reason: String
        /// The value as text: six decimals, or as many more as it takes for the text to fall on the same
        /// side of the threshold as the exact value (so it never reads "5 is below 5"). Show this, not
        /// `value` rounded. Nil with `value`.
        public let shown: String?
    }

    public let consultation: String
    public let position: Int64
    public let criteria: [Criterion]
    public let verdict: String

    /// The close everything that depends on it uses (SPEC.md): the earlier of `closes_at` and the
    /// close command.
    public static func effectiveClose(of consultation: Consultation) -> Date {
        min(consultation.closesAt, consultation.closedAt ?? consultation.closesAt)
    }

    /// `value` in decimals: six, or more until the text compares with `threshold` as `value` does
    /// (`strictly`: by >, else by ≥). Ends: the text converges on `value`, and a value on the
    /// threshold is shown as the threshold's finite decimal.
    static func shown(_ value: Rational, against threshold: Rational, strictly: Bool) -> String {
        func passes(_ x: Rational) -> Bool { strictly ? x > threshold : x >= threshold }
        let truth = passes(value)
        for places in 6...1_000 {
            let text = value.rounded(places: places)
            if let shown = Rational(decimal: text), passes(shown) == truth { return text }
        }
        return value.description
    }

    /// Judges `metrics` against `policy`; `now` is the log time of the position (not the wall clock),
    /// so the same position always gives the same audit.
    public init(metrics: ConsultationMetrics, consultation: Consultation, policy: Policy, now: Date) {
        func exactly(_ threshold: Double) -> (Rational, String)? {
            Rational(shortestDecimal: threshold).map { ($0, $0.exactDecimal) }
        }
        /// A criterion judged `value ≥ threshold` (or `>` when `strictly`), exactly.
        func judge(
            _ name: String, _ value: Rational?, _ limit: Double, strictly: Bool = false, missing: String,
            reason: ((_ pass: Bool, _ value: String, _ threshold: String) -> String)? = nil
        ) -> Criterion {
            let sign = strictly ? ">" : "≥"
            guard let (threshold, thresholdText) = exactly(limit) else {
                return Criterion(
                    name: name, value: value?.double, threshold: "\(sign) \(limit)", status: .insufficientData,
                    reason: "the policy's threshold is not a number", shown: value.map { $0.rounded(places: 6) })
            }
            guard let value else {
                return Criterion(
                    name: name, value: nil, threshold: "\(sign) \(thresholdText)", status: .insufficientData, reason: missing,
                    shown: nil)
            }
            let pass = strictly ? value > threshold : value >= threshold
            let text = Self.shown(value, against: threshold, strictly: strictly)
            return Criterion(
                name: name, value: value.double, threshold: "\(sign) \(thresholdText)", status: pass ? .pass : .fail,
                reason: reason?(pass, text, thresholdText) ?? "\(text) is \(pass ? "at or above" : "below") \(thresholdText)",
                shown: text)
        }
        let noSubmissions = "no submissions (withdrawn ones do not count)"
        let worstRepresentativeness = metrics.dimensions.compactMap(\.exactRepresentativeness).min()
        let worstCoverage = metrics.dimensions.compactMap(\.exactCoverage).min()
        let noGroups = metrics.submissions == 0 ? noSubmissions : "no submission lists a group for every dimension"
        let allDimensionsHeard = metrics.dimensions.allSatisfy { $0.respondents > 0 }
        let exact = metrics.exact

        var criteria = [
            judge("affected_led_share", exact.affectedLedShare, policy.affectedLedShare, missing: noSubmissions),
            judge("representativeness", allDimensionsHeard ? worstRepresentativeness : nil, policy.representativeness, missing: noGroups),
            judge("coverage", allDimensionsHeard ? worstCoverage : nil, policy.coverage, missing: noGroups),
            judge("effective_voices", exact.effectiveVoices, policy.effectiveVoices, missing: noSubmissions),
        ]

        // Times: exact values of their seconds, so "closed 28 days" is 28 and never 27.99999999.
        let close = Self.effectiveClose(of: consultation)
        let closedEarly = close < consultation.closesAt
        let closeName = closedEarly ? "closed by command" : "closes_at"
        func seconds(_ date: Date) -> Rational { Rational(exactly: date.timeIntervalSinceReferenceDate) ?? .zero }
        let day = Rational(86_400)
        let grace = exactly(policy.feedbackGraceDays)?.0 ?? .zero
        let graceText = grace.exactDecimal
        let judgedFrom = close.addingTimeInterval(policy.feedbackGraceDays * 86_400)
        if seconds(now) - seconds(close) < grace * day {
            criteria.append(Criterion(
                name: "feedback_rate", value: exact.feedbackRate?.double,
                threshold: "≥ \(exactly(policy.feedbackRate)?.1 ?? String(policy.feedbackRate))", status: .insufficientData,
                reason: "judged from \(Timestamps.format(judgedFrom)) (\(closeName) \(Timestamps.format(close)) + \(graceText) days)",
                shown: exact.feedbackRate?.rounded(places: 6)))
        } else {
            criteria.append(judge("feedback_rate", exact.feedbackRate, policy.feedbackRate, missing: noSubmissions))
        }
        criteria.append(judge(
            "influence_rate", exact.influenceRate, policy.influenceRate, strictly: true,
            missing: metrics.submissions == 0 ? noSubmissions : "no outcome published yet",
            reason: { pass, value, threshold in
                pass ? "the outcome cites \(value) of the submissions" : "the published outcome cites no more than \(threshold) of the submissions"
            }))
        criteria.append(judge("stage_coverage", exact.stageCoverage, policy.stageCoverage, missing: "the consultation has no stages"))
        let windowDays = (seconds(close) - seconds(consultation.opensAt)) / day
        criteria.append(judge(
            "window_days", windowDays, policy.windowDays, missing: "",
            reason: { pass, value, threshold in
                let base = "\(value) is \(pass ? "at or above" : "below") \(threshold)"
                return closedEarly ? base + " (closed by command at \(Timestamps.format(close)), before closes_at)" : base
            }))

        self.consultation = metrics.consultation
        self.position = metrics.position
        self.criteria = criteria
        let status = Dictionary(uniqueKeysWithValues: criteria.map { ($0.name, $0.status) })
        if criteria.allSatisfy({ $0.status == .pass }) {
            verdict = "meaningful"
        } else if status["feedback_rate"] == .fail && status["influence_rate"] == .fail {
            verdict = "tokenistic"
        } else {
            verdict = "partial"
        }
    }

    public var json: JSONValue {
        .object([
            ("consultation", .string(consultation)), ("position", .number(String(position))), ("verdict", .string(verdict)),
            ("criteria", .array(criteria.map { criterion in
                .object([
                    ("criterion", .string(criterion.name)),
                    ("value", criterion.shown.map { .number($0) } ?? .null),
                    ("threshold", .string(criterion.threshold)), ("status", .string(criterion.status.rawValue)),
                    ("reason", .string(criterion.reason)),
                ])
            })),
        ])
    }
}
