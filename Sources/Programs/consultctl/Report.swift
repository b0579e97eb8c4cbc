import ArgumentParser
import Domain
import Foundation
import JSON
import LineProtocol
import Participation
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

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case md, html, csv, json
        /// The tidy CSV with HXL hashtags under its header, for the humanitarian sector's tools (docs/METRICS.md).
        case hxl

        /// The file's extension: `.hxl.csv`, so that spreadsheet tools still open it as CSV.
        var fileExtension: String { self == .hxl ? "hxl.csv" : rawValue }
    }

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
    @Option(help: "The language of the report's own words (HTML and md): en, fr or ar.") var lang: Language = .en

    func run() {
        guard all != (consultation != nil) else { fail("give either --consultation ID or --all") }
        let policy = oneLine { try Policy.load(self.policy) }
        let policyName = Policy.name(self.policy)
        let log = Log(db)
        let fold = oneLine { try Query.fold(log.store, upTo: asOf, conninfo: db.conninfo) }
        let checkpoint = oneLine { try TreeStore(connection: log.store.connection).reportCheckpoint(covering: fold.position) }
        let cosigned = oneLine { try checkpoint.flatMap { try TreeStore(connection: log.store.connection).storedCosignedNote($0) } }
        let ids = oneLine { try Query.consultations(consultation, in: fold) }
        let folder = URL(fileURLWithPath: out)
        oneLine { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        let made = Timestamps.format(Date())
        let words = Words(language: lang)
        var index: [(id: String, title: Naming.Name, convener: Naming.Name, verdict: String, submissions: String)] = []
        for id in ids {
            let consultation = fold.registry.consultations[id]!
            let metrics = ConsultationMetrics(consultation: id, fold: fold, minRatio: policy.minRatio)!
            let audit = Audit(metrics: metrics, consultation: consultation, policy: policy, now: fold.time)
            let facts = oneLine { try ReportFacts(consultation: consultation, fold: fold, store: log.store) }
            let suppression = noSuppress ? nil : Suppression(metrics: metrics, feedbackGiven: facts.withFeedback, threshold: Int(policy.minCell))
            let content = ReportContent(
                consultation: consultation, metrics: metrics, audit: audit, fold: fold, policy: policy, policyName: policyName,
                checkpoint: checkpoint, cosigned: cosigned, suppression: suppression, facts: facts)
            let text: String
            switch format {
            case .md: text = content.markdown(made: made, words: words)
            case .html: text = content.html(made: made, words: words)
            case .csv: text = content.csv(made: made)
            case .hxl: text = content.csv(made: made, hxl: true)
            case .json: text = content.json(made: made)
            }
            let naming = content.naming(words)
            index.append((id, naming.title, naming.convener, audit.verdict, content.suppressedCount("submissions", metrics.submissions, words)))
            let target = folder.appendingPathComponent("\(id).\(format.fileExtension)")
            oneLine { try Self.writeAtomically(text, to: target) }
            if !quiet { print(target.path) }
        }
        if all && format == .html {
            let target = folder.appendingPathComponent("index.html")
            oneLine { try Self.writeAtomically(ReportIndex(entries: index).html(made: made, words: words), to: target) }
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
    /// The signed checkpoint the report cites (covering its position; the most cosigned), if one exists yet.
    let checkpoint: Checkpoint?
    /// A C2SP checkpoint's note with its witnesses' cosignatures, and how many witnesses cosigned it.
    var cosigned: (note: String, cosignatures: Int)? = nil
    /// What is withheld (nil: --no-suppress).
    let suppression: Suppression?
    /// What the report tells beyond the metrics: kinds of organisation, topics, the outcome.
    let facts: ReportFacts

    let f = ConsultationMetrics.format

    static let withheld = "suppressed"

    func withholds(_ metric: String, _ dimension: ConsultationMetrics.Dimension, _ group: String? = nil) -> Bool {
        suppression?.withholds(metric: metric, dimension: dimension.name, group: group) ?? false
    }

    /// An audit criterion's value and reason, or "suppressed" and why.
    func shown(_ criterion: Audit.Criterion) -> (value: String, reason: String) {
        guard suppression?.withholds(criterion: criterion.name) == true else { return (criterion.shown ?? "n/a", criterion.reason) }
        return (Self.withheld, "withheld: it is computed from, or would give away, a count under \(suppression!.threshold) submissions (small-cell suppression)")
    }

    /// Days whose submission (or feedback) count is withheld: each series sums to a figure the report shows.
    func withheld(in days: [(day: String, submissions: Int, feedback: Int)]) -> (submissions: Set<String>, feedback: Set<String>) {
        guard let suppression else { return ([], []) }
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

    /// Markdown for people who read plain text: the HTML report's story and tables, rounded as a person would.
    func markdown(made: String, words w: Words) -> String {
        let n = naming(w)
        var lines = ["# \(w(.title, n.title.text))", "", "\(w(.convenedBy, n.convener.text)) · \(Self.plain(windowHTML(w)))", "",
                     "## \(w(.inShort))", ""]
        lines += summary(w).map { "- " + Self.plain($0) }
        lines += ["", "## \(w(.audit))", "", "| \(w(.criterion)) | \(w(.value)) | \(w(.threshold)) | \(w(.result)) | \(w(.why)) |",
                  "| --- | --- | --- | --- | --- |"]
        for criterion in audit.criteria {
            let (value, _) = shown(criterion)
            let shownValue = value == Self.withheld ? Self.withheld : percentOrNumber(criterion, value, w)
            lines.append("| \(w.name(criterion.name)) | \(shownValue) | \(threshold(criterion, w)) | \(mark(criterion.status, w)) \(w.name(criterion.status.rawValue)) | \(Self.plain(why(criterion, w))) |")
        }
        for dimension in metrics.dimensions {
            let respondents = withholds("respondents", dimension) ? w(.fewerThan, String(suppression!.threshold)) : String(dimension.respondents)
            lines += ["", "### \(n.dimension(dimension.name).text) (\(respondents))", "",
                      "| \(w(.group)) | \(w(.gVoiceShare)) | \(w(.populationShare)) | \(w(.gRatio)) |", "| --- | --- | --- | --- |"]
            for group in groups(dimension) {
                let name = groupName(group, dimension.name, n, w).text
                let voice = withholds("voice_share", dimension, group) ? Self.withheld : w.percent(dimension.voiceShare[group] ?? 0)
                let ratio = withholds("representation_ratio", dimension, group)
                    ? Self.withheld : ((dimension.representationRatio[group] ?? nil).map { w.number($0, places: 2) } ?? "–")
                let population = group == "other" ? "–" : w.percent(dimension.baseline[group] ?? 0)
                lines.append("| \(name) | \(voice) | \(population) | \(ratio) |")
            }
        }
        lines += ["", "## \(w(.about))", ""] + aboutLines(w).map { "- " + Self.plain($0) } + ["", w(.made, made)]
        return lines.joined(separator: "\n") + "\n"
    }

    /// HTML as plain text: tags dropped, entities read.
    static func plain(_ html: String) -> String {
        html.replacingOccurrences(of: #"<[^>]+>"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    func groups(_ dimension: ConsultationMetrics.Dimension) -> [String] {
        dimension.baseline.keys.sorted() + ((dimension.listed["other"] ?? 0) > 0 ? ["other"] : [])
    }

    /// The tidy table's columns, and each one's HXL hashtag (hxlstandard.org; docs/METRICS.md says why these).
    static let columns: [(name: String, hxl: String)] = [
        ("kind", "#meta+kind"), ("consultation", "#activity+code"), ("position", "#meta+log_position"), ("metric", "#indicator+code"),
        ("dimension", "#group+dimension"), ("group_name", "#group+code"), ("value", "#value"), ("status", "#status"),
        ("suppressed", "#meta+suppressed"),
    ]
    /// What only the HXL file adds, after the tidy table's columns: HXL tools join and filter on these.
    static let hxlColumns: [(name: String, hxl: String)] = [
        ("title", "#activity+name"), ("convener", "#org+lead+name"), ("as_of", "#date+as_of"), ("about", "#meta+about"),
    ]

    /// One tidy table: a `kind` column says what each row is (metric, audit, verdict, about), every
    /// row has every column, and nothing else is in the file. With `hxl`, a row of HXL hashtags under
    /// the header and four columns more: title, convener, the day of the log's position, and the text
    /// of an about row (which the CSV keeps under `value`, but HXL's `#value` is always a number).
    func csv(made: String, hxl: Bool = false) -> String {
        let columns = Self.columns + (hxl ? Self.hxlColumns : [])
        var rows = Rows(columns: columns.map(\.name))
        if hxl { rows.append(columns.map { .string($0.hxl) }) }
        let extra: [JSONValue] = hxl ? [.string(consultation.title), .string(consultation.convener), .string(Self.day(fold.time)), .null] : []
        let id = JSONValue.string(consultation.id)
        let position = JSONValue.number(String(fold.position))
        for row in metrics.rows {
            let withheld = suppression?.withholds(metric: row.metric, dimension: row.dimension, group: row.group) ?? false
            rows.append([
                .string("metric"), id, position, .string(row.metric), row.dimension.map(JSONValue.string) ?? .null,
                row.group.map(JSONValue.string) ?? .null, withheld ? .null : row.value.map { .number(f($0)) } ?? .null, .null, .bool(withheld),
            ] + extra)
        }
        for criterion in audit.criteria {
            let withheld = suppression?.withholds(criterion: criterion.name) ?? false
            rows.append([.string("audit"), id, position, .string(criterion.name), .null, .null,
                         withheld ? .null : criterion.shown.map { .number($0) } ?? .null, .string(criterion.status.rawValue), .bool(withheld)] + extra)
        }
        rows.append([.string("verdict"), id, position, .string("verdict"), .null, .null, .null, .string(audit.verdict), .bool(false)] + extra)
        let about: [(String, String)] = [
            ("policy", policyName), ("checkpoint", checkpoint.map { "\($0.size) \($0.root.hex) \($0.keyID)" } ?? ""),
            ("min_cell", suppression.map { String($0.threshold) } ?? "off"), ("made", made),
        ]
        for (name, value) in about {
            let text = JSONValue.string(value)
            rows.append([.string("about"), id, position, .string(name), .null, .null, hxl ? .null : text, .null, .bool(false)]
                + (hxl ? extra.dropLast() + [text] : []))
        }
        return rows.render(.csv)
    }

    /// The checkpoint as receipts carry it, with (for a C2SP one) `cosignatures`, how many witnesses
    /// cosigned it, and `note`, the signed note with their cosignatures.
    var checkpointJSON: JSONValue {
        guard let checkpoint else { return .null }
        guard let cosigned, case .object(var fields) = checkpoint.json else { return checkpoint.json }
        fields.append(("cosignatures", .number(String(cosigned.cosignatures))))
        fields.append(("note", .string(cosigned.note)))
        return .object(fields)
    }

    func json(made: String) -> String {
        JSONValue.object([
            ("consultation", .string(consultation.id)), ("title", .string(consultation.title)),
            ("position", .number(String(fold.position))), ("policy", .string(policyName)),
            ("checkpoint", checkpointJSON),
            ("suppression", suppression?.json ?? .object([("applied", .bool(false)), ("off", .bool(true))])),
            ("metrics", suppression?.apply(to: metrics.json) ?? metrics.json), ("audit", auditJSON),
            ("outcome", facts.outcome.map { outcome in
                let small = suppression.map { outcome.cited > 0 && outcome.cited < $0.threshold } ?? false
                return .object([("summary", .string(outcome.summary)), ("cited", small ? .null : .number(String(outcome.cited)))])
            } ?? .null),
            ("made", .string(made)),
        ]).serialized + "\n"
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

}
