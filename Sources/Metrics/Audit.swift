import Domain
import Foundation
import LineProtocol

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

    public init() {}

    /// Reads a policy file: a JSON object with any of the keys of `policy/default.json`; others are refused.
    public init(json text: String) throws {
        let value = try JSONParser().parse(text)
        guard case .object(let members) = value else { throw PolicyError("a policy is a JSON object") }
        let fields: [String: WritableKeyPath<Policy, Double>] = [
            "min_ratio": \.minRatio, "affected_led_share": \.affectedLedShare,
            "representativeness": \.representativeness, "coverage": \.coverage, "effective_voices": \.effectiveVoices,
            "feedback_rate": \.feedbackRate, "feedback_grace_days": \.feedbackGraceDays, "influence_rate": \.influenceRate,
            "stage_coverage": \.stageCoverage, "window_days": \.windowDays,
        ]
        for (name, member) in members {
            guard let path = fields[name] else { throw PolicyError("\(name): not a policy setting") }
            guard case .number(let text) = member, let number = Double(text), number >= 0 else {
                throw PolicyError("\(name): a number ≥ 0")
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
public struct Audit: Equatable, Sendable {
    public enum Status: String, Sendable { case pass, fail, insufficientData = "insufficient_data" }

    public struct Criterion: Equatable, Sendable {
        public let name: String
        public let value: Double?
        /// How the value is compared, e.g. "≥ 0.25".
        public let threshold: String
        public let status: Status
        public let reason: String
    }

    public let consultation: String
    public let position: Int64
    public let criteria: [Criterion]
    public let verdict: String

    /// Judges `metrics` against `policy`; `now` is the log time of the position (not the wall clock),
    /// so the same position always gives the same audit.
    public init(metrics: ConsultationMetrics, consultation: Consultation, policy: Policy, now: Date) {
        let f = ConsultationMetrics.format
        func atLeast(_ name: String, _ value: Double?, _ threshold: Double, missing: String) -> Criterion {
            guard let value else {
                return Criterion(name: name, value: nil, threshold: "≥ \(f(threshold))", status: .insufficientData, reason: missing)
            }
            let pass = value >= threshold
            return Criterion(
                name: name, value: value, threshold: "≥ \(f(threshold))", status: pass ? .pass : .fail,
                reason: "\(f(value)) is \(pass ? "at or above" : "below") \(f(threshold))")
        }
        let noSubmissions = "no submissions (withdrawn ones do not count)"
        let worstRepresentativeness = metrics.dimensions.compactMap(\.representativeness).min()
        let worstCoverage = metrics.dimensions.compactMap(\.coverage).min()
        let noGroups = metrics.submissions == 0 ? noSubmissions : "no submission lists a group for every dimension"
        let allDimensionsHeard = metrics.dimensions.allSatisfy { $0.respondents > 0 }

        var criteria = [
            atLeast("affected_led_share", metrics.affectedLedShare, policy.affectedLedShare, missing: noSubmissions),
            atLeast("representativeness", allDimensionsHeard ? worstRepresentativeness : nil, policy.representativeness, missing: noGroups),
            atLeast("coverage", allDimensionsHeard ? worstCoverage : nil, policy.coverage, missing: noGroups),
            atLeast("effective_voices", metrics.effectiveVoices, policy.effectiveVoices, missing: noSubmissions),
        ]
        let judgedFrom = consultation.closesAt.addingTimeInterval(policy.feedbackGraceDays * 86_400)
        if now < judgedFrom {
            criteria.append(Criterion(
                name: "feedback_rate", value: metrics.feedbackRate, threshold: "≥ \(f(policy.feedbackRate))",
                status: .insufficientData, reason: "judged from \(Timestamps.format(judgedFrom)) (closes_at + \(f(policy.feedbackGraceDays)) days)"))
        } else {
            criteria.append(atLeast("feedback_rate", metrics.feedbackRate, policy.feedbackRate, missing: noSubmissions))
        }
        if let influence = metrics.influenceRate {
            let pass = influence > policy.influenceRate
            criteria.append(Criterion(
                name: "influence_rate", value: influence, threshold: "> \(f(policy.influenceRate))", status: pass ? .pass : .fail,
                reason: pass ? "the outcome cites \(f(influence)) of the submissions" : "the published outcome cites no more than \(f(policy.influenceRate)) of the submissions"))
        } else {
            criteria.append(Criterion(
                name: "influence_rate", value: nil, threshold: "> \(f(policy.influenceRate))", status: .insufficientData,
                reason: metrics.submissions == 0 ? noSubmissions : "no outcome published yet"))
        }
        criteria.append(atLeast("stage_coverage", metrics.stageCoverage, policy.stageCoverage, missing: "the consultation has no stages"))
        let windowDays = consultation.closesAt.timeIntervalSince(consultation.opensAt) / 86_400
        criteria.append(atLeast("window_days", windowDays, policy.windowDays, missing: ""))

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
                    ("value", criterion.value.map { .number(ConsultationMetrics.format($0)) } ?? .null),
                    ("threshold", .string(criterion.threshold)), ("status", .string(criterion.status.rawValue)),
                    ("reason", .string(criterion.reason)),
                ])
            })),
        ])
    }
}
