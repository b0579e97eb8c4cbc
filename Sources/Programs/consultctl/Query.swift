import ArgumentParser
import Domain
import EventLog
import Foundation
import JSON
import LineProtocol
import Participation
import PostgresClient
import Projections

/// `consultctl query`: metrics, the audit, participation and organisations, as of any log position.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute metrics, the audit, participation or organisations from the log.",
        discussion: """
            Numbers are folded from the log up to --as-of (default: its head), so the same position always
            gives the same numbers. Table output starts with the position; JSON objects carry it.
            """)

    enum Subject: String, ExpressibleByArgument, CaseIterable {
        case metrics, audit, participation, organisations
    }

    @Argument(help: "metrics, audit, participation or organisations") var subject: Subject
    @OptionGroup var db: DatabaseOptions
    @Option(help: "Only this consultation.") var consultation: String?
    @Option(help: "A past log position (default: the head of the log).") var asOf: Int64?
    @Option var format: OutputFormat = .table
    @Option(help: "Audit policy file (default: the shipped defaults, policy/default.json).") var policy: String?

    func run() {
        let policy = oneLine { try Policy.load(self.policy) }
        let fold = oneLine { try Self.fold(Log(db).store, upTo: asOf, conninfo: db.conninfo) }
        let ids = oneLine { try Self.consultations(consultation, in: fold) }
        let metrics = ids.compactMap { ConsultationMetrics(consultation: $0, fold: fold, minRatio: policy.minRatio) }
        let rows: Rows
        switch subject {
        case .metrics:
            if format == .json {
                print(JSONValue.array(metrics.map(\.json)).serialized)
                return
            }
            rows = Self.tidy(metrics)
        case .audit:
            let audits = metrics.map {
                Audit(metrics: $0, consultation: fold.registry.consultations[$0.consultation]!, policy: policy, now: fold.time)
            }
            if format == .json {
                print(JSONValue.array(audits.map(\.json)).serialized)
                return
            }
            var table = Rows(columns: ["consultation", "criterion", "value", "threshold", "status", "reason"])
            for audit in audits {
                for criterion in audit.criteria {
                    table.append([
                        .string(audit.consultation), .string(criterion.name),
                        criterion.shown.map { .string($0) } ?? .null,
                        .string(criterion.threshold), .string(criterion.status.rawValue), .string(criterion.reason),
                    ])
                }
                table.append([.string(audit.consultation), .string("verdict"), .null, .null, .string(audit.verdict), .null])
            }
            rows = table
        case .participation:
            rows = Self.participation(fold, ids)
        case .organisations:
            rows = Self.organisations(fold, ids)
        }
        if format == .table { print("as of log position \(fold.position)") }
        print(rows.render(format), terminator: "")
    }

    /// `only` if the fold knows it, else every consultation, by id.
    static func consultations(_ only: String?, in fold: LogFold) throws -> [String] {
        guard let only else { return fold.registry.consultations.keys.sorted() }
        guard fold.registry.consultations[only] != nil else {
            throw CommandFailure("consultation: no consultation \(only) as of position \(fold.position)")
        }
        return [only]
    }

    /// Folds the log from the start up to `position` (or its head), read over the log's connection
    /// and one more to `conninfo` at once (see `LogReader.fold(_:and:into:through:chunk:)`).
    static func fold(_ store: EventStore, upTo position: Int64?, conninfo: String) throws -> LogFold {
        var fold = LogFold()
        let head = try store.headPosition()
        if let position, position > head || position < 0 {
            throw CommandFailure("as-of: position \(position) is not in the log (its head is \(head))")
        }
        try LogReader.fold(store.connection, and: try Connection(conninfo), into: &fold, through: position ?? head)
        return fold
    }

    /// One row per consultation × metric × dimension × group: easy to filter, plot or join.
    static func tidy(_ metrics: [ConsultationMetrics]) -> Rows {
        var rows = Rows(columns: ["consultation", "position", "metric", "dimension", "group_name", "value"])
        for row in metrics.flatMap(\.rows) {
            rows.append([
                .string(row.consultation), .number(String(row.position)), .string(row.metric),
                row.dimension.map(JSONValue.string) ?? .null, row.group.map(JSONValue.string) ?? .null,
                row.value.map { .number(ConsultationMetrics.format($0)) } ?? .null,
            ])
        }
        return rows
    }

    /// Per consultation × organisation: what it sent, what was withdrawn, answered and cited.
    static func participation(_ fold: LogFold, _ ids: [String]) -> Rows {
        var rows = Rows(columns: ["consultation", "organisation", "submissions", "withdrawn", "with_feedback", "cited"])
        for row in fold.participation(of: ids) {
            rows.append([
                .string(row.consultation), .string(row.organisation), .number(String(row.submissions)),
                .number(String(row.withdrawn)), .number(String(row.withFeedback)), .number(String(row.cited)),
            ])
        }
        return rows
    }

    /// Per organisation across consultations: where it took part, how often it got feedback and was cited.
    static func organisations(_ fold: LogFold, _ ids: [String]) -> Rows {
        var rows = Rows(columns: [
            "organisation", "type", "leadership", "level", "consultations", "submissions", "feedback_rate", "cited_rate",
        ])
        let wanted = Set(ids)
        let active = fold.submissions.filter { !$0.withdrawn && wanted.contains($0.consultation) }
        let byOrganisation = Dictionary(grouping: active, by: \.organisation)
        for organisation in fold.registry.organisations.values.sorted(by: { $0.id < $1.id }) {
            let records = byOrganisation[organisation.id] ?? []
            let n = Double(records.count)
            let cited = records.filter { fold.outcomes[$0.consultation]?.contains("\($0.organisation)/\($0.key)") ?? false }
            rows.append([
                .string(organisation.id), .string(organisation.type), .string(organisation.leadership.joined(separator: ",")),
                .string(organisation.level), .string(Set(records.map(\.consultation)).sorted().joined(separator: ",")),
                .number(String(records.count)),
                records.isEmpty ? .null : .number(ConsultationMetrics.format(Double(records.filter { $0.firstFeedbackAt != nil }.count) / n)),
                records.isEmpty ? .null : .number(ConsultationMetrics.format(Double(cited.count) / n)),
            ])
        }
        return rows
    }
}
