import Foundation
import JSON

/// Small-cell suppression for what is published (docs/PRIVACY.md): a count of fewer than `threshold`
/// submissions, and every share computed from fewer, is withheld; where a withheld cell could be worked
/// back from a total and its neighbours, the next smallest neighbour is withheld too. Analysts' queries
/// stay exact: only reports apply this.
public struct Suppression: Equatable, Sendable {
    public let threshold: Int
    /// Consultation-level figures withheld, by their names in the metrics' JSON (e.g. `submissions`).
    public private(set) var figures: Set<String> = []
    /// Per dimension, groups whose voice share and representation ratio are withheld.
    public private(set) var groups: [String: Set<String>] = [:]
    /// Dimensions whose dissimilarity and representativeness are withheld (they are computed from the
    /// withheld shares, and with the others shown could give them away).
    public private(set) var indices: Set<String> = []
    /// Dimensions whose count of submissions listing a group is withheld.
    public private(set) var respondents: Set<String> = []

    /// Figures computed from all the consultation's submissions.
    static let perSubmission: Set<String> = [
        "affected_led_share", "local_national_share", "feedback_rate", "median_days_to_feedback", "influence_rate", "stage_coverage",
        "language_coverage",
    ]
    /// Figures computed from the organisations that submitted.
    static let perOrganisation: Set<String> = ["concentration_hhi", "effective_voices"]

    /// What to withhold from `metrics`; `feedbackGiven` is how many submissions had feedback (the
    /// median's population).
    public init(metrics: ConsultationMetrics, feedbackGiven: Int, threshold: Int) {
        self.threshold = threshold
        func small(_ count: Int) -> Bool { count > 0 && count < threshold }
        if small(metrics.submissions) { figures.formUnion(["submissions"] + Self.perSubmission) }
        if small(metrics.organisations) { figures.formUnion(["organisations"] + Self.perOrganisation) }
        if small(feedbackGiven) { figures.insert("median_days_to_feedback") }
        for dimension in metrics.dimensions {
            let heard = dimension.listed.filter { $0.value > 0 }
            var withheld: Set<String>
            if small(dimension.respondents) || small(metrics.submissions) {
                respondents.insert(dimension.name)
                withheld = Set(heard.keys)
            } else {
                withheld = Set(Self.cells(heard.map { ($0.key, $0.value) }, threshold: threshold))
            }
            if !withheld.isEmpty {
                groups[dimension.name] = withheld
                indices.insert(dimension.name)
            }
        }
    }

    /// Whether anything is withheld.
    public var applied: Bool { !figures.isEmpty || !groups.isEmpty || !respondents.isEmpty }

    /// The cells to withhold among `cells` whose sum is shown: those of 1 to threshold − 1, and, when
    /// that is exactly one, also the smallest other cell above zero (else the total gives it away).
    public static func cells<Key: Comparable>(_ cells: [(Key, Int)], threshold: Int) -> [Key] {
        var withheld = cells.filter { $0.1 > 0 && $0.1 < threshold }.map(\.0)
        if withheld.count == 1 {
            let complement = cells.filter { $0.1 > 0 && $0.0 != withheld[0] }
                .min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            if let complement { withheld.append(complement.0) }
        }
        return withheld.sorted()
    }

    /// Whether a metric row (as in `ConsultationMetrics.rows`) is withheld.
    public func withholds(metric: String, dimension: String?, group: String?) -> Bool {
        if figures.contains(metric) { return true }
        guard let dimension else { return false }
        switch metric {
        case "voice_share", "representation_ratio": return group.map { groups[dimension]?.contains($0) ?? false } ?? false
        case "dissimilarity", "representativeness": return indices.contains(dimension)
        case "respondents": return respondents.contains(dimension)
        default: return false
        }
    }

    /// Whether an audit criterion's value (and the reason that quotes it) is withheld.
    public func withholds(criterion: String) -> Bool {
        switch criterion {
        case "representativeness": return !indices.isEmpty
        case "coverage": return figures.contains("submissions")
        default: return figures.contains(criterion)
        }
    }

    /// Every withheld cell as a path into the metrics' JSON (e.g. `voice_share.gender.60+`).
    public var paths: [String] {
        var paths = figures.sorted()
        for (dimension, names) in groups.sorted(by: { $0.key < $1.key }) {
            for group in names.sorted() { paths += ["voice_share.\(dimension).\(group)", "representation_ratio.\(dimension).\(group)"] }
        }
        for dimension in indices.sorted() { paths += ["dissimilarity.\(dimension)", "representativeness.\(dimension)"] }
        return paths + respondents.sorted().map { "respondents.\($0)" }
    }

    /// The metrics' JSON with every withheld value replaced by null.
    public func apply(to json: JSONValue) -> JSONValue {
        var result = json
        for path in paths where !path.hasPrefix("respondents.") {
            // Group names may contain dots; the path's first two parts never do.
            let parts = path.split(separator: ".", maxSplits: 2).map(String.init)
            result = result.replacing(at: parts) { _ in .null }
        }
        return result
    }

    /// How the report says it: what was applied, with what threshold.
    public var json: JSONValue {
        .object([("applied", .bool(applied)), ("min_cell", .number(String(threshold))), ("withheld", .array(paths.map(JSONValue.string)))])
    }
}
