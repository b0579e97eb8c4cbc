import Foundation

/// One tidy metric value: what `analytics.metrics` holds and `consultctl query metrics` prints.
public struct MetricRow: Equatable, Sendable {
    public let consultation: String
    public let metric: String
    public let dimension: String?
    public let group: String?
    public let value: Double?
    public let position: Int64
}

/// One consultation × organisation: what `analytics.participation` holds.
public struct ParticipationRow: Equatable, Sendable {
    public let consultation: String
    public let organisation: String
    public let submissions: Int
    public let withdrawn: Int
    public let withFeedback: Int
    public let cited: Int
    public let position: Int64
}

extension ConsultationMetrics {
    /// Every metric as tidy rows, in a fixed order (the underrepresented groups carry their rank).
    public var rows: [MetricRow] {
        var rows: [MetricRow] = []
        func add(_ metric: String, _ dimension: String? = nil, _ group: String? = nil, value: Double?) {
            rows.append(MetricRow(consultation: consultation, metric: metric, dimension: dimension, group: group, value: value, position: position))
        }
        add("submissions", value: Double(submissions))
        add("organisations", value: Double(organisations))
        add("affected_led_share", value: affectedLedShare)
        add("local_national_share", value: localNationalShare)
        for d in dimensions {
            for group in d.voiceShare.keys.sorted() { add("voice_share", d.name, group, value: d.voiceShare[group]) }
            for group in d.representationRatio.keys.sorted() {
                add("representation_ratio", d.name, group, value: d.representationRatio[group]!)
            }
            add("dissimilarity", d.name, value: d.dissimilarity)
            add("representativeness", d.name, value: d.representativeness)
            add("coverage", d.name, value: d.coverage)
            for (rank, group) in d.underrepresented.enumerated() { add("underrepresented", d.name, group, value: Double(rank + 1)) }
        }
        add("concentration_hhi", value: concentrationHHI)
        add("effective_voices", value: effectiveVoices)
        add("feedback_rate", value: feedbackRate)
        add("median_days_to_feedback", value: medianDaysToFeedback)
        add("influence_rate", value: influenceRate)
        add("stage_coverage", value: stageCoverage)
        add("language_coverage", value: languageCoverage)
        return rows
    }
}

extension LogFold {
    /// Per consultation × organisation, for the given consultations.
    public func participation(of consultations: [String]) -> [ParticipationRow] {
        consultations.flatMap { id -> [ParticipationRow] in
            (tallies[id]?.organisations ?? [:]).filter { $0.value.active + $0.value.withdrawn > 0 }
                .sorted { $0.key < $1.key }
                .map { organisation, counts in
                    ParticipationRow(
                        consultation: id, organisation: organisation, submissions: counts.active, withdrawn: counts.withdrawn,
                        withFeedback: counts.withFeedback, cited: counts.cited, position: position)
                }
        }
    }
}
