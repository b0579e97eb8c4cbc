import ArgumentParser
import Domain
import Foundation
import JSON
import LineProtocol
import Metrics
import Trust

/// `consultctl report`: one file per consultation, in md, html, csv or json, written atomically.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write reports of consultations (metrics, audit, participation) to a folder.",
        discussion: """
            Each report states the log position it was computed at, the signed checkpoint that covers it
            (docs/TRUST.md: keep it to check later that the log still extends it), the policy, and when it
            was made; the same position gives the same file apart from that last line. Files are written to a temporary
            name and renamed, so a reader never sees half a report.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case md, html, csv, json }

    @OptionGroup var db: DatabaseOptions
    @Option(help: "One consultation.") var consultation: String?
    @Flag(help: "Every consultation.") var all = false
    @Option var format: Format
    @Option(help: "Folder to write into (created if missing).") var out: String
    @Option(help: "A past log position (default: the head).") var asOf: Int64?
    @Option(help: "Audit policy file (default: the shipped defaults).") var policy: String?
    @Flag(help: "Print nothing on success (for cron, which mails any output).") var quiet = false
    @Flag(help: "Show small cells too (for internal use only: the report says so). By default values from fewer than the policy's min_cell submissions are withheld (docs/PRIVACY.md).")
    var noSuppress = false

    func run() {
        guard all != (consultation != nil) else { fail("give either --consultation ID or --all") }
        let policy = oneLine { try Policy.load(self.policy) }
        let policyName = Policy.name(self.policy)
        let log = Log(db)
        let fold = oneLine { try Query.fold(log.store, upTo: asOf) }
        let checkpoint = oneLine { try TreeStore(connection: log.store.connection).checkpoint(covering: fold.position) }
        let ids = oneLine { try Query.consultations(consultation, in: fold) }
        let folder = URL(fileURLWithPath: out)
        oneLine { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        let made = Timestamps.format(Date())
        for id in ids {
            let consultation = fold.registry.consultations[id]!
            let metrics = ConsultationMetrics(consultation: id, fold: fold, minRatio: policy.minRatio)!
            let audit = Audit(metrics: metrics, consultation: consultation, policy: policy, now: fold.time)
            let withFeedback = fold.activeSubmissions(of: id).filter { $0.firstFeedbackAt != nil }.count
            let suppression = noSuppress ? nil : Suppression(metrics: metrics, feedbackGiven: withFeedback, threshold: Int(policy.minCell))
            let content = ReportContent(
                consultation: consultation, metrics: metrics, audit: audit, fold: fold, policy: policy, policyName: policyName,
                checkpoint: checkpoint, suppression: suppression)
            let text: String
            switch format {
            case .md: text = content.markdown(made: made)
            case .html: text = content.html(made: made)
            case .csv: text = content.csv(made: made)
            case .json: text = content.json(made: made)
            }
            let target = folder.appendingPathComponent("\(id).\(format.rawValue)")
            oneLine { try Self.writeAtomically(text, to: target) }
            if !quiet { print(target.path) }
        }
    }

    /// Temp file in the same folder, then rename: the target is either the old file or the new one.
    static func writeAtomically(_ text: String, to target: URL) throws {
        let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, target.path) == 0 else {
                throw CommandFailure("cannot write \(target.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}

/// What a report says, rendered four ways.
struct ReportContent {
    let consultation: Consultation
    let metrics: ConsultationMetrics
    let audit: Audit
    let fold: LogFold
    let policy: Policy
    let policyName: String
    /// The first signed checkpoint covering the report's position, if one exists yet.
    let checkpoint: Checkpoint?
    /// What is withheld (nil: --no-suppress).
    let suppression: Suppression?

    let f = ConsultationMetrics.format
    func show(_ value: Double?) -> String { value.map(f) ?? "n/a" }

    static let withheld = "suppressed"

    /// A consultation-level figure, or "suppressed".
    func show(_ figure: String, _ value: Double?) -> String {
        suppression?.withholds(metric: figure, dimension: nil, group: nil) == true ? Self.withheld : show(value)
    }

    func count(_ figure: String, _ value: Int) -> String {
        suppression?.withholds(metric: figure, dimension: nil, group: nil) == true ? "fewer than \(suppression!.threshold)" : String(value)
    }

    /// A group's value in a dimension, or "suppressed".
    func show(_ metric: String, _ dimension: ConsultationMetrics.Dimension, _ group: String?, _ value: Double?) -> String {
        suppression?.withholds(metric: metric, dimension: dimension.name, group: group) == true ? Self.withheld : show(value)
    }

    func withholds(_ metric: String, _ dimension: ConsultationMetrics.Dimension, _ group: String? = nil) -> Bool {
        suppression?.withholds(metric: metric, dimension: dimension.name, group: group) ?? false
    }

    /// An audit criterion's value and reason, or "suppressed" and why.
    func shown(_ criterion: Audit.Criterion) -> (value: String, reason: String) {
        guard suppression?.withholds(criterion: criterion.name) == true else { return (criterion.shown ?? "n/a", criterion.reason) }
        return (Self.withheld, "computed from fewer than \(suppression!.threshold) submissions (small-cell suppression)")
    }

    var suppressionLine: String {
        guard let suppression else { return "Small-cell suppression: off (--no-suppress): for internal use only, not for publication" }
        return "Small-cell suppression: min_cell \(suppression.threshold); "
            + (suppression.applied
                ? "\(suppression.paths.count) value(s) computed from fewer than \(suppression.threshold) submissions, or that would give one away, are shown as suppressed"
                : "no value needed withholding")
    }

    var header: [String] {
        [
            "Consultation: \(consultation.title) (\(consultation.id)), convened by \(consultation.convener)",
            "Window: \(Timestamps.format(consultation.opensAt)) to \(Timestamps.format(consultation.closesAt))",
            "As of log position \(fold.position)",
            checkpointLine,
            "Policy: \(policyName)",
            suppressionLine,
        ]
    }

    var checkpointLine: String {
        guard let checkpoint else {
            return "Checkpoint: none signed yet covers position \(fold.position) (consultd signs one within seconds while the log grows)"
        }
        return "Checkpoint: the log's first \(checkpoint.size) events, root \(checkpoint.root.hex), signed by key \(checkpoint.keyID) "
            + "(signature \(Data(checkpoint.signature).base64EncodedString()), log time \(Checkpoint.iso(microseconds: checkpoint.logTimeMicroseconds)))"
    }

    /// Days whose submission (or feedback) count is withheld: each series sums to a figure the report shows.
    var withheldDays: (submissions: Set<String>, feedback: Set<String>) {
        guard let suppression else { return ([], []) }
        let days = daily
        return (Set(Suppression.cells(days.map { ($0.day, $0.submissions) }, threshold: suppression.threshold)),
                Set(Suppression.cells(days.map { ($0.day, $0.feedback) }, threshold: suppression.threshold)))
    }

    /// Submissions and first feedback per day (log time), for the chart over time.
    var daily: [(day: String, submissions: Int, feedback: Int)] {
        let records = fold.activeSubmissions(of: consultation.id)
        func day(_ date: Date) -> String { String(Timestamps.format(date).prefix(10)) }
        var counts: [String: (Int, Int)] = [:]
        for record in records {
            counts[day(record.receivedAt), default: (0, 0)].0 += 1
            if let feedback = record.firstFeedbackAt { counts[day(feedback), default: (0, 0)].1 += 1 }
        }
        return counts.keys.sorted().map { ($0, counts[$0]!.0, counts[$0]!.1) }
    }

    func markdown(made: String) -> String {
        var lines = ["# Consultation report: \(consultation.title)", ""] + header.map { "- \($0)" }
        lines += ["", "## Verdict: \(audit.verdict)", "", "| criterion | value | threshold | status | reason |", "| --- | --- | --- | --- | --- |"]
        for criterion in audit.criteria {
            let (value, reason) = shown(criterion)
            lines.append("| \(criterion.name) | \(value) | \(criterion.threshold) | \(criterion.status.rawValue) | \(reason) |")
        }
        lines += ["", "## Who was heard", "",
                  "- Submissions: \(count("submissions", metrics.submissions)) from \(count("organisations", metrics.organisations)) organisations",
                  "- Affected-led share: \(show("affected_led_share", metrics.affectedLedShare)); local or national: \(show("local_national_share", metrics.localNationalShare))",
                  "- Effective voices: \(show("effective_voices", metrics.effectiveVoices)) (concentration \(show("concentration_hhi", metrics.concentrationHHI)))",
                  "- Feedback rate: \(show("feedback_rate", metrics.feedbackRate)); median days to feedback: \(show("median_days_to_feedback", metrics.medianDaysToFeedback))",
                  "- Influence rate: \(show("influence_rate", metrics.influenceRate)); stage coverage: \(show("stage_coverage", metrics.stageCoverage)); language coverage: \(show("language_coverage", metrics.languageCoverage))"]
        for dimension in metrics.dimensions {
            let respondents = withholds("respondents", dimension) ? "fewer than \(suppression!.threshold)" : String(dimension.respondents)
            lines += ["", "### \(dimension.name)", "",
                      "Representativeness \(show("representativeness", dimension, nil, dimension.representativeness)), coverage \(show("coverage", dimension.coverage)), "
                        + "\(respondents) submissions list a group. Underrepresented: "
                        + (dimension.underrepresented.isEmpty ? "none" : dimension.underrepresented.joined(separator: ", ")) + ".",
                      "", "| group | voice share | baseline | representation ratio |", "| --- | --- | --- | --- |"]
            for group in groups(dimension) {
                lines.append("| \(group) | \(show("voice_share", dimension, group, dimension.voiceShare[group])) | \(show(dimension.baseline[group])) | \(show("representation_ratio", dimension, group, dimension.representationRatio[group] ?? nil)) |")
            }
        }
        lines += ["", "Report made \(made)"]
        return lines.joined(separator: "\n") + "\n"
    }

    func groups(_ dimension: ConsultationMetrics.Dimension) -> [String] {
        dimension.baseline.keys.sorted() + (dimension.voiceShare["other"] != nil ? ["other"] : [])
    }

    func csv(made: String) -> String {
        var rows = Rows(columns: ["consultation", "position", "metric", "dimension", "group", "value", "suppressed"])
        for row in metrics.rows {
            let withheld = suppression?.withholds(metric: row.metric, dimension: row.dimension, group: row.group) ?? false
            rows.append([
                .string(row.consultation), .number(String(row.position)), .string(row.metric),
                row.dimension.map(JSONValue.string) ?? .null, row.group.map(JSONValue.string) ?? .null,
                withheld ? .null : row.value.map { .number(f($0)) } ?? .null, .bool(withheld),
            ])
        }
        for criterion in audit.criteria {
            let withheld = suppression?.withholds(criterion: criterion.name) ?? false
            rows.append([.string(consultation.id), .number(String(fold.position)), .string("audit:\(criterion.name)"), .null,
                         .string(criterion.status.rawValue), withheld ? .null : criterion.shown.map { .number($0) } ?? .null, .bool(withheld)])
        }
        rows.append([.string(consultation.id), .number(String(fold.position)), .string("verdict"), .null, .string(audit.verdict), .null, .bool(false)])
        return rows.render(.csv) + "# policy: \(policyName)\r\n# \(checkpointLine)\r\n# \(suppressionLine)\r\n# made: \(made)\r\n"
    }

    func json(made: String) -> String {
        JSONValue.object([
            ("consultation", .string(consultation.id)), ("title", .string(consultation.title)),
            ("position", .number(String(fold.position))), ("policy", .string(policyName)),
            ("checkpoint", checkpoint?.json ?? .null),
            ("suppression", suppression?.json ?? .object([("applied", .bool(false)), ("off", .bool(true))])),
            ("metrics", suppression?.apply(to: metrics.json) ?? metrics.json), ("audit", auditJSON),
        ]).serialized + "\n" + JSONValue.object([("made", .string(made))]).serialized + "\n"
    }

    /// The audit's JSON with withheld criteria's values and reasons replaced.
    var auditJSON: JSONValue {
        guard let suppression else { return audit.json }
        return audit.json.replacing(at: ["criteria"]) { criteria in
            guard case .array(let items) = criteria else { return criteria }
            return .array(items.map { item in
                guard let name = item["criterion"]?.stringValue, suppression.withholds(criterion: name) else { return item }
                let (_, reason) = shown(audit.criteria.first { $0.name == name }!)
                return item.replacing(at: ["value"]) { _ in .null }.replacing(at: ["reason"]) { _ in .string(reason) }
            })
        }
    }

    // MARK: HTML

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    func html(made: String) -> String {
        let e = Self.escape
        var body = ["<h1>\(e(consultation.title))</h1>", "<ul>"] + header.map { "<li>\(e($0))</li>" } + ["</ul>"]
        body.append("<h2>Verdict: <span class=\"verdict \(audit.verdict)\">\(audit.verdict)</span></h2>")
        body.append("<table><thead><tr><th>criterion</th><th>value</th><th>threshold</th><th>status</th><th>reason</th></tr></thead><tbody>")
        for criterion in audit.criteria {
            let (value, reason) = shown(criterion)
            body.append("<tr class=\"\(criterion.status.rawValue)\"><td>\(criterion.name)</td><td>\(e(value))</td><td>\(e(criterion.threshold))</td><td>\(criterion.status.rawValue)</td><td>\(e(reason))</td></tr>")
        }
        body.append("</tbody></table>")
        body.append("<p>\(count("submissions", metrics.submissions)) submissions from \(count("organisations", metrics.organisations)) organisations; affected-led share \(show("affected_led_share", metrics.affectedLedShare)); effective voices \(show("effective_voices", metrics.effectiveVoices)); feedback rate \(show("feedback_rate", metrics.feedbackRate)); influence rate \(show("influence_rate", metrics.influenceRate)).</p>")
        for dimension in metrics.dimensions {
            body.append("<h2>\(e(dimension.name))</h2>")
            body.append("<p>Representativeness \(show("representativeness", dimension, nil, dimension.representativeness)), coverage \(show("coverage", dimension.coverage)); underrepresented: \(e(dimension.underrepresented.isEmpty ? "none" : dimension.underrepresented.joined(separator: ", "))).</p>")
            body.append(voiceChart(dimension))
            body.append(ratioChart(dimension))
        }
        body.append("<h2>Submissions and feedback over time</h2>")
        body.append(timeChart())
        let style = "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}tr.fail td{background:#fde2e2}tr.pass td{background:#e3f6e3}tr.insufficient_data td{background:#f3f3f3}.verdict.tokenistic{color:#b00}.verdict.meaningful{color:#070}.verdict.partial{color:#a60}svg text{font-size:11px}.withheld{fill:none;stroke:#999;stroke-dasharray:3 2}"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/><title>\(e(consultation.title)): consultation report</title><style>\(style)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            <p class="made">Report made \(made)</p>
            </body></html>

            """
    }

    /// The start every chart shares: the svg element with its accessible label and title, the x axis
    /// and the legend line. The caller appends the marks and closes with `</svg>`.
    func chartStart(width: Int, label: String, title: String, legend: String) -> [String] {
        [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"200\" role=\"img\" aria-label=\"\(Self.escape(label))\">",
            "<title>\(Self.escape(title))</title>",
            "<line x1=\"40\" y1=\"170\" x2=\"\(width - 10)\" y2=\"170\" stroke=\"#333\"/>",
            "<text x=\"45\" y=\"12\">\(Self.escape(legend))</text>",
        ]
    }

    /// A withheld value: a dashed outline of no height that means nothing about the value.
    static func withheldMark(x: Int, width: Int, what: String) -> String {
        "<rect class=\"withheld\" x=\"\(x)\" y=\"150\" width=\"\(width)\" height=\"20\"><title>\(escape(what)): suppressed (small cell)</title></rect>"
    }

    /// Voice share beside baseline, one pair of bars per group.
    func voiceChart(_ dimension: ConsultationMetrics.Dimension) -> String {
        let names = groups(dimension)
        let width = max(420, 80 + names.count * 70)
        var parts = chartStart(
            width: width, label: "Voice share beside baseline, \(dimension.name)",
            title: "Voice share (dark) beside baseline (light): \(dimension.name)",
            legend: "dark: voice share, light: population baseline")
        parts += ["<text x=\"2\" y=\"24\">100%</text><text x=\"2\" y=\"173\">0</text>",
                     "<line x1=\"40\" y1=\"20\" x2=\"\(width - 10)\" y2=\"20\" stroke=\"#eee\"/>"]
        for (index, group) in names.enumerated() {
            let x = 50 + index * 70
            let voice = dimension.voiceShare[group] ?? 0
            let base = dimension.baseline[group] ?? 0
            if withholds("voice_share", dimension, group) {
                parts.append(Self.withheldMark(x: x, width: 25, what: "\(group) voice share"))
            } else {
                parts.append("<rect x=\"\(x)\" y=\"\(170 - Int(voice * 150))\" width=\"25\" height=\"\(Int(voice * 150))\" fill=\"#1f5f99\"><title>\(Self.escape(group)) voice \(f(voice))</title></rect>")
            }
            parts.append("<rect x=\"\(x + 27)\" y=\"\(170 - Int(base * 150))\" width=\"25\" height=\"\(Int(base * 150))\" fill=\"#9cc3e6\"><title>\(Self.escape(group)) baseline \(f(base))</title></rect>")
            parts.append("<text x=\"\(x)\" y=\"185\">\(Self.escape(String(group.prefix(10))))</text>")
        }
        parts.append("</svg>")
        return parts.joined()
    }

    /// Representation ratios against the policy's line (0.5 by default): below it is underrepresented.
    func ratioChart(_ dimension: ConsultationMetrics.Dimension) -> String {
        let names = dimension.baseline.keys.sorted()
        let width = max(420, 80 + names.count * 70)
        let top = max(2.0, names.compactMap { dimension.representationRatio[$0] ?? nil }.max() ?? 0)
        func y(_ ratio: Double) -> Int { 170 - Int(ratio / top * 150) }
        var parts = chartStart(
            width: width, label: "Representation ratios, \(dimension.name)",
            title: "Representation ratio per group against the \(f(policy.minRatio)) line: \(dimension.name)",
            legend: "ratio to baseline; under the red line (\(f(policy.minRatio))): underrepresented")
        parts += ["<line x1=\"40\" y1=\"\(y(policy.minRatio))\" x2=\"\(width - 10)\" y2=\"\(y(policy.minRatio))\" stroke=\"#b00\" stroke-dasharray=\"4 3\"/>",
                     "<line x1=\"40\" y1=\"\(y(1))\" x2=\"\(width - 10)\" y2=\"\(y(1))\" stroke=\"#999\"/>",
                     "<text x=\"2\" y=\"\(y(1) + 4)\">1</text><text x=\"2\" y=\"\(y(policy.minRatio) + 4)\">\(f(policy.minRatio))</text>"]
        for (index, group) in names.enumerated() {
            let x = 50 + index * 70
            let ratio = (dimension.representationRatio[group] ?? nil) ?? 0
            let color = ratio < policy.minRatio ? "#b00" : "#1f5f99"
            if withholds("representation_ratio", dimension, group) {
                parts.append(Self.withheldMark(x: x, width: 40, what: "\(group) ratio"))
                parts.append("<text x=\"\(x)\" y=\"185\">\(Self.escape(String(group.prefix(10))))</text>")
                continue
            }
            parts.append("<rect x=\"\(x)\" y=\"\(y(ratio))\" width=\"40\" height=\"\(170 - y(ratio))\" fill=\"\(color)\"><title>\(Self.escape(group)) ratio \(f(ratio))</title></rect>")
            parts.append("<text x=\"\(x)\" y=\"185\">\(Self.escape(String(group.prefix(10))))</text>")
        }
        parts.append("</svg>")
        return parts.joined()
    }

    /// Submissions and first feedback per day.
    func timeChart() -> String {
        let days = daily
        let withheld = withheldDays
        let width = max(420, 80 + days.count * 30)
        // The scale from shown counts only: a withheld day's count must not surface as the maximum.
        let top = max(1, days.map {
            max(withheld.submissions.contains($0.day) ? 0 : $0.submissions, withheld.feedback.contains($0.day) ? 0 : $0.feedback)
        }.max() ?? 1)
        var parts = chartStart(
            width: width, label: "Submissions and feedback per day",
            title: "Submissions (dark) and first feedback (orange) per day",
            legend: "dark: submissions, orange: first feedback, per day (most: \(top))")
        for (index, day) in days.enumerated() {
            let x = 50 + index * 30
            let s = day.submissions * 150 / top
            let fb = day.feedback * 150 / top
            if withheld.submissions.contains(day.day) {
                parts.append(Self.withheldMark(x: x, width: 12, what: "\(day.day) submissions"))
            } else {
                parts.append("<rect x=\"\(x)\" y=\"\(170 - s)\" width=\"12\" height=\"\(s)\" fill=\"#1f5f99\"><title>\(day.day): \(day.submissions) submissions</title></rect>")
            }
            if withheld.feedback.contains(day.day) {
                parts.append(Self.withheldMark(x: x + 13, width: 12, what: "\(day.day) first feedback"))
            } else {
                parts.append("<rect x=\"\(x + 13)\" y=\"\(170 - fb)\" width=\"12\" height=\"\(fb)\" fill=\"#e08a00\"><title>\(day.day): \(day.feedback) first feedback</title></rect>")
            }
        }
        if let first = days.first, let last = days.last {
            parts.append("<text x=\"40\" y=\"190\">\(first.day)</text>")
            if days.count > 1 { parts.append("<text x=\"\(width - 80)\" y=\"190\">\(last.day)</text>") }
        }
        parts.append("</svg>")
        return parts.joined()
    }
}
