import Domain
import Foundation
import Participation
import EventLog
import Trust

/// The HTML report, for people first: what was asked, who answered and who did not, what came of
/// it, whether that was meaningful and why; then the audit, a glossary and where the numbers come
/// from. One file, no script, nothing fetched; bars are HTML, so they reflow on a phone and flip for
/// right-to-left languages.
extension ReportContent {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A figure or a date as HTML, isolated from the text around it: in a right-to-left sentence
    /// "2026-11-26" and "15%" keep their order, and so does the sentence.
    static func isolated(_ text: String) -> String { "<bdi>\(escape(text))</bdi>" }

    /// The names of this consultation's things in the words' language.
    func naming(_ w: Words) -> Naming { Naming(language: w.language, consultation: consultation, book: facts.names) }

    /// A group's name: the report's word for "other", else the consultation's name for it.
    func groupName(_ group: String, _ dimension: String, _ n: Naming, _ w: Words) -> Naming.Name {
        group == "other" ? Naming.Name(text: w.name("other"), language: nil) : n.group(group, in: dimension)
    }

    static let style = """
        :root{--ink:#1d2430;--muted:#5b6472;--line:#d9dde3;--voice:#1f5f99;--pop:#9cc3e6;--warn:#b00020;--fb:#d97706;--ok:#0a6b2c}
        *{box-sizing:border-box}
        body{font-family:"Noto Sans","Noto Naskh Arabic","DejaVu Sans",sans-serif;line-height:1.5;color:var(--ink);max-width:56rem;margin:0 auto;padding:1rem}
        h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid var(--line)}h3{font-size:1.05rem}
        p,li,td,th,h1,h2,h3,.label{overflow-wrap:anywhere}
        .meta{color:var(--muted);margin:0}
        .summary{background:#f4f6f9;border-inline-start:4px solid var(--voice);padding:.5rem 1rem;margin:1rem 0}
        .verdict{font-weight:bold}.verdict.meaningful{color:var(--ok)}.verdict.partial{color:#9a5b00}.verdict.tokenistic{color:var(--warn)}
        table{width:100%;border-collapse:collapse;table-layout:fixed;margin:.5rem 0}
        th,td{border-bottom:1px solid var(--line);padding:.3rem .4rem;text-align:start;vertical-align:top}
        tr.fail td{background:#fdecee}tr.pass td{background:#eaf6ee}.mark{font-weight:bold}
        .bars{display:grid;grid-template-columns:minmax(5rem,32%) minmax(0,1fr);gap:.35rem .6rem;align-items:center;margin:.5rem 0}
        .track{position:relative;height:1.5rem;background:#f1f3f6}
        .fill{position:absolute;inset-inline-start:0;top:0;height:55%;background:var(--voice)}
        .fill.pop{top:55%;height:45%;background:var(--pop)}
        .fill.under{background:repeating-linear-gradient(135deg,var(--warn) 0 6px,#e8a0a8 6px 9px)}
        .tick{position:absolute;top:-.2rem;bottom:-.2rem;border-inline-start:1px solid var(--muted)}
        .tick.line{border-inline-start:2px dashed var(--warn)}
        .scale{position:relative;height:1.2rem;font-size:.75rem;color:var(--muted)}
        .scale span{position:absolute;top:0;transform:translateX(-50%)}.scale span.first{transform:none}.scale span.last{transform:translateX(-100%)}
        [dir=rtl] .scale span{transform:translateX(50%)}[dir=rtl] .scale span.first{transform:none}[dir=rtl] .scale span.last{transform:translateX(100%)}
        .value{font-size:.85rem;color:var(--muted)}
        .zero{color:var(--warn);font-weight:bold}
        .withheld{font-style:italic;color:var(--muted)}
        .days{display:flex;align-items:flex-end;gap:1px;height:8rem;border-bottom:1px solid var(--muted)}
        .day{flex:1 1 0;min-width:0;display:flex;align-items:flex-end;gap:0;height:100%}
        .day span{flex:1 1 0;background:var(--voice)}.day span.fb{background:var(--fb)}
        .day span.held{background:repeating-linear-gradient(45deg,#ccc 0 2px,#fff 2px 4px);height:4px}
        .range{display:flex;justify-content:space-between;font-size:.8rem;color:var(--muted)}
        dl dt{font-weight:bold;margin-top:.5rem}dl dd{margin-inline-start:1rem}
        footer{margin-top:2rem;font-size:.85rem;color:var(--muted)}
        .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
        @media print{body{max-width:none;padding:0}.summary,.bars,tr,figure{break-inside:avoid}h2,h3{break-after:avoid}}
        """

    func html(made: String, words: Words) -> String {
        let e = Self.escape
        let w = words
        let n = naming(w)
        var body: [String] = []
        body.append("<header><h1>\(w.html(.title, n.title.html))</h1>")
        body.append("<p class=\"meta\">\(w.html(.convenedBy, n.convener.html)) · \(windowHTML(w))</p></header>")

        body.append("<section class=\"summary\" aria-label=\"\(e(w(.inShort)))\"><h2>\(e(w(.inShort)))</h2>")
        for sentence in summary(w) { body.append("<p>\(sentence)</p>") }
        body.append("</section>")

        // We asked: the consultation itself.
        body.append("<section><h2>\(e(w(.weAsked)))</h2><ul>")
        body.append("<li>\(e(w(.stages))): \(e(w.list(consultation.stages.map(w.name))))</li>")
        body.append("<li>\(e(w(.languages))): \(w.list(consultation.languages.map(n.listedLanguage)))</li>")
        body.append("<li>\(e(w(.population))): \(w.list(consultation.dimensions.map { n.dimension($0).html }))</li></ul></section>")

        // You said: who took part, whose voice against the population, the topics.
        body.append("<section><h2>\(e(w(.youSaid)))</h2>")
        body.append("<h3>\(e(w(.byKind)))</h3>")
        body.append(kindTable(w))
        for dimension in metrics.dimensions {
            body.append("<h3>\(w.html(.voiceAgainstPopulation, n.dimension(dimension.name).html))</h3>")
            body.append(voiceBars(dimension, w))
            body.append("<h3>\(w.html(.ratioTitle, n.dimension(dimension.name).html))</h3>")
            body.append(ratioBars(dimension, w))
        }
        body.append("<h3>\(e(w(.topics)))</h3>")
        body.append(topicList(w))
        body.append("<h3>\(e(w(.overTime)))</h3>")
        body.append(dayBars(w))
        body.append("</section>")

        // We did: the outcome and the feedback.
        body.append("<section><h2>\(e(w(.weDid)))</h2><h3>\(e(w(.outcome)))</h3>")
        if let outcome = facts.outcome {
            body.append("<blockquote><p dir=\"auto\">\(e(outcome.summary))</p></blockquote>")
            body.append("<p>\(w.html(.citedCount, Self.isolated(suppressedCount("influence_rate", outcome.cited, w))))</p>")
        } else {
            body.append("<p>\(e(w(.sNoOutcome)))</p>")
        }
        body.append("<h3>\(e(w(.feedback)))</h3><p>\(feedbackSentence(w))</p></section>")

        body.append("<section><h2>\(e(w(.audit)))</h2>")
        body.append("<table><thead><tr><th>\(e(w(.criterion)))</th><th>\(e(w(.value)))</th><th>\(e(w(.threshold)))</th><th>\(e(w(.result)))</th><th>\(e(w(.why)))</th></tr></thead><tbody>")
        for criterion in audit.criteria {
            let (value, _) = shown(criterion)
            let shownValue = value == Self.withheld ? w(.withheld) : percentOrNumber(criterion, value, w)
            body.append("<tr class=\"\(criterion.status.rawValue)\"><td>\(e(w.name(criterion.name)))</td><td>\(Self.isolated(shownValue))</td><td>\(Self.isolated(threshold(criterion, w)))</td><td><span class=\"mark\" aria-hidden=\"true\">\(e(mark(criterion.status, w)))</span> \(e(w.name(criterion.status.rawValue)))</td><td>\(why(criterion, w))</td></tr>")
        }
        body.append("</tbody></table></section>")

        body.append("<section><h2>\(e(w(.glossary)))</h2><dl>")
        let terms: [(Words.Key, Words.Key)] = [
            (.gSubmission, .tSubmission), (.gAffectedLed, .tAffectedLed), (.gVoiceShare, .tVoiceShare), (.gPopulationShare, .tPopulationShare),
            (.gRatio, .tRatio), (.gRepresentativeness, .tRepresentativeness), (.gCoverage, .tCoverage), (.gEffectiveVoices, .tEffectiveVoices),
            (.gFeedbackRate, .tFeedbackRate), (.gInfluenceRate, .tInfluenceRate), (.gStageCoverage, .tStageCoverage), (.gVerdicts, .tVerdicts),
            (.gSuppression, .tSuppression), (.gCheckpoint, .tCheckpoint),
        ]
        for (term, definition) in terms {
            let argument = definition == .tRatio ? w.number(policy.minRatio, places: 2) : String(Int(policy.minCell))
            body.append("<dt>\(e(w(term)))</dt><dd>\(e(w(definition, argument)))</dd>")
        }
        body.append("</dl></section>")

        body.append("<footer><h2>\(e(w(.about)))</h2>")
        for line in aboutLines(w) { body.append("<p>\(line)</p>") }
        body.append("<p class=\"made\">\(w.html(.made, Self.isolated(made)))</p></footer>")
        let direction = w.language.rightToLeft ? "rtl" : "ltr"
        return """
            <!DOCTYPE html>
            <html lang="\(w.language.rawValue)" dir="\(direction)"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(e(w(.title, n.title.text)))</title><style>\(Self.style)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }

    /// "Open from … to …", with an early close.
    func windowHTML(_ w: Words) -> String {
        let close = Audit.effectiveClose(of: consultation)
        var text = w.html(.window, Self.isolated(Self.day(consultation.opensAt)), Self.isolated(Self.day(consultation.closesAt)))
        if close < consultation.closesAt { text += " (" + w.html(.closedEarly, Self.isolated(Self.day(close))) + ")" }
        return text
    }

    /// A verdict's symbol, so that colour is never the only thing that tells pass from fail.
    func mark(_ status: Audit.Status, _ w: Words) -> String {
        switch status {
        case .pass: return w(.markPass)
        case .fail: return w(.markFail)
        case .insufficientData: return w(.markInsufficient)
        }
    }

    static func day(_ date: Date) -> String { String(Timestamps.format(date).prefix(10)) }

    /// A figure's share as a percentage, or "withheld".
    func percent(_ figure: String, _ value: Double?, _ w: Words) -> String? {
        if suppression?.withholds(metric: figure, dimension: nil, group: nil) == true { return w(.withheld) }
        return value.map(w.percent)
    }

    func suppressedCount(_ figure: String, _ count: Int, _ w: Words) -> String {
        if let suppression, count > 0, count < suppression.threshold || suppression.withholds(metric: figure, dimension: nil, group: nil) {
            return w(.fewerThan, String(suppression.threshold))
        }
        return String(count)
    }

    /// An audit value as a person reads it: shares as percentages, counts and days as numbers.
    func percentOrNumber(_ criterion: Audit.Criterion, _ shown: String, _ w: Words) -> String {
        guard let value = criterion.value else { return "–" }
        switch criterion.name {
        case "effective_voices": return w.number(value, places: 1)
        case "window_days": return w.number(value, places: 1)
        default: return w.percent(value)
        }
    }

    /// A criterion's threshold as its value is shown: a percentage for shares.
    func threshold(_ criterion: Audit.Criterion, _ w: Words) -> String {
        let parts = criterion.threshold.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let limit = Double(parts[1]), !["effective_voices", "window_days"].contains(criterion.name) else {
            return criterion.threshold
        }
        return "\(parts[0]) \(w.percent(limit))"
    }

    /// Why a criterion passed or failed, in any language, as HTML: the value against the threshold,
    /// and for representativeness and coverage the dimension and groups at fault. Not yet judged:
    /// the audit's reason.
    func why(_ criterion: Audit.Criterion, _ w: Words) -> String {
        let (value, reason) = shown(criterion)
        guard criterion.status != .insufficientData else { return notYet(criterion, w) ?? Self.escape(reason) }
        guard value != Self.withheld else { return Self.escape(reason) }
        let comparison = threshold(criterion, w)
        let sign = comparison.split(separator: " ").first.map(String.init) ?? ""
        let negated = sign == ">" ? "≤" : "<"
        let limit = String(comparison.dropFirst(sign.count + 1))
        var text = "\(Self.isolated(percentOrNumber(criterion, value, w))) \(Self.escape(criterion.status == .pass ? sign : negated)) \(Self.isolated(limit))"
        if criterion.status == .fail, ["representativeness", "coverage"].contains(criterion.name), let faults = faults(criterion, w) {
            text += " (\(faults))"
        }
        return text
    }

    /// Why a criterion cannot be judged yet, in the report's language, as HTML (nil: the audit's own words).
    func notYet(_ criterion: Audit.Criterion, _ w: Words) -> String? {
        if metrics.submissions == 0 && criterion.name != "stage_coverage" && criterion.name != "window_days" {
            return Self.escape(w(.nyNoSubmissions))
        }
        switch criterion.name {
        case "feedback_rate":
            let close = Audit.effectiveClose(of: consultation)
            return w.html(.nyFeedbackFrom, Self.isolated(Self.day(close.addingTimeInterval(policy.feedbackGraceDays * 86_400))),
                          Self.isolated(w.number(policy.feedbackGraceDays, places: 1)), Self.isolated(Self.day(close)))
        case "influence_rate": return Self.escape(w(.sNoOutcome))
        case "representativeness", "coverage": return Self.escape(w(.nyNoGroups))
        case "stage_coverage": return Self.escape(w(.nyNoStages))
        default: return nil
        }
    }

    /// The plain-language summary, as HTML: one sentence per fact, from the numbers.
    func summary(_ w: Words) -> [String] {
        let n = naming(w)
        let count = { (figure: String, value: Int) in Self.isolated(self.suppressedCount(figure, value, w)) }
        var sentences: [String] = []
        sentences.append(w.html(.sOrganisations, count("organisations", metrics.organisations), count("submissions", metrics.submissions)))
        if let share = percent("affected_led_share", metrics.affectedLedShare, w), metrics.submissions > 0 {
            sentences.append(w.html(.sAffected, Self.isolated(share)))
        }
        var least: [String] = []
        var unheard: [String] = []
        for dimension in metrics.dimensions {
            let dimensionName = n.dimension(dimension.name).html
            for group in dimension.baseline.keys.sorted() where (dimension.baseline[group] ?? 0) > 0 {
                let name = n.group(group, in: dimension.name).html
                if dimension.respondents > 0 && (dimension.listed[group] ?? 0) == 0 {
                    unheard.append("\(name) (\(dimensionName))")
                } else if dimension.underrepresented.contains(group) {
                    least.append(withholds("representation_ratio", dimension, group)
                        ? "\(name) (\(dimensionName))"
                        : w.html(.sLeastHeardItem, name, dimensionName, Self.isolated(w.percent((dimension.representationRatio[group] ?? nil) ?? 0))))
                }
            }
        }
        if !least.isEmpty { sentences.append(w.html(.sLeastHeard, w.lists(least))) }
        if !unheard.isEmpty { sentences.append("<span class=\"zero\">" + w.html(.sUnheard, w.list(unheard)) + "</span>") }
        if least.isEmpty && unheard.isEmpty && metrics.submissions > 0 {
            sentences.append(w.html(.sAllHeard, Self.isolated(w.percent(policy.minRatio))))
        }
        let judged = audit.criteria.filter { $0.status != .insufficientData }
        let failing = audit.criteria.filter { $0.status == .fail }.map { criterionFault($0, w) }
        let verdict: String
        switch audit.verdict {
        case "meaningful": verdict = w.html(.sMeaningful)
        case "tokenistic": verdict = w.html(.sTokenistic, w.lists(failing))
        default: verdict = w.html(.sPartial, Self.isolated(String(judged.count - failing.count)), Self.isolated(String(judged.count)), w.lists(failing))
        }
        sentences.append("<span class=\"verdict \(audit.verdict)\">\(verdict)</span>")
        let notYet = audit.criteria.filter { $0.status == .insufficientData }.map { w.name($0.name) }
        if !notYet.isEmpty { sentences.append(w.html(.sNotYet, Self.escape(w.list(notYet)))) }
        sentences.append(feedbackSentence(w))
        if facts.outcome != nil, let share = percent("influence_rate", metrics.influenceRate, w) {
            sentences.append(w.html(.sOutcome, Self.isolated(share)))
        } else {
            sentences.append(w.html(.sNoOutcome))
        }
        return sentences
    }

    /// For representativeness and coverage, as HTML: each dimension and its groups at fault (nil: none).
    /// Representativeness suffers from every group heard too little; coverage only from those not heard at all.
    func faults(_ criterion: Audit.Criterion, _ w: Words) -> String? {
        let n = naming(w)
        let faults = metrics.dimensions.compactMap { dimension -> String? in
            let groups = dimension.baseline.keys.sorted().filter {
                let unheard = dimension.respondents > 0 && (dimension.listed[$0] ?? 0) == 0
                return unheard || (criterion.name == "representativeness" && dimension.underrepresented.contains($0))
            }
            guard !groups.isEmpty else { return nil }
            return "\(n.dimension(dimension.name).html): " + w.list(groups.map { n.group($0, in: dimension.name).html })
        }
        return faults.isEmpty ? nil : w.lists(faults)
    }

    /// A failing criterion and what is at fault, as HTML: for representativeness and coverage, the dimension and groups.
    func criterionFault(_ criterion: Audit.Criterion, _ w: Words) -> String {
        let name = Self.escape(w.name(criterion.name))
        switch criterion.name {
        case "representativeness", "coverage":
            return faults(criterion, w).map { "\(name) (\($0))" } ?? name
        default:
            let (value, _) = shown(criterion)
            guard value != Self.withheld else { return name }
            return "\(name) (\(Self.isolated(percentOrNumber(criterion, value, w))), \(Self.isolated(criterion.threshold)))"
        }
    }

    /// The feedback sentence, as HTML.
    func feedbackSentence(_ w: Words) -> String {
        guard facts.withFeedback > 0, let share = percent("feedback_rate", metrics.feedbackRate, w) else { return w.html(.sNoFeedback) }
        let median = suppression?.withholds(metric: "median_days_to_feedback", dimension: nil, group: nil) == true
            ? w(.withheld) : w.number(metrics.medianDaysToFeedback ?? 0, places: 1)
        return w.html(.sFeedback, Self.isolated(share), Self.isolated(median))
    }

    /// Where the numbers come from, as HTML lines.
    func aboutLines(_ w: Words) -> [String] {
        let i = Self.isolated
        var lines = [w.html(.position, i(String(fold.position)))]
        if let checkpoint {
            lines.append(w.html(.checkpoint, i(String(checkpoint.size)), i(checkpoint.root.hex), i(checkpoint.keyID),
                                i(Data(checkpoint.signature).base64EncodedString())))
            if let cosigned { lines.append(w.html(.cosigned, i(String(cosigned.cosignatures)))) }
        } else {
            lines.append(w.html(.noCheckpoint))
        }
        lines.append(w.html(.policy, i(policyName)))
        if let suppression {
            lines.append(suppression.applied
                ? w.html(.suppressionOn, i(String(suppression.threshold)), i(String(suppression.paths.count)))
                : w.html(.suppressionNothing, i(String(suppression.threshold))))
        } else {
            lines.append(w.html(.suppressionOff))
        }
        return lines
    }

    func kindTable(_ w: Words) -> String {
        let e = Self.escape
        var rows = ["<table><thead><tr><th>\(e(w(.kindOfOrganisation)))</th><th>\(e(w(.submissions)))</th><th>\(e(w(.share)))</th></tr></thead><tbody>"]
        let held = Set(suppression.map { Suppression.cells(facts.byKind.map { ($0.kind, $0.submissions) }, threshold: $0.threshold) } ?? [])
        for (kind, count) in facts.byKind {
            let shown = held.contains(kind) ? (w(.fewerThan, String(suppression!.threshold)), w(.withheld)) : (String(count), w.percent(Double(count) / Double(max(1, metrics.submissions))))
            rows.append("<tr><td>\(e(w.name(kind)))</td><td>\(Self.isolated(shown.0))</td><td>\(Self.isolated(shown.1))</td></tr>")
        }
        return rows.joined() + "</tbody></table>"
    }

    /// Voice (dark) over population (light) per group; a group nobody spoke for is named at zero.
    /// A screen reader reads the chart's label: every group with both shares.
    func voiceBars(_ dimension: ConsultationMetrics.Dimension, _ w: Words) -> String {
        let e = Self.escape
        let n = naming(w)
        var rows: [String] = []
        var spoken: [String] = []
        for group in groups(dimension) {
            let name = groupName(group, dimension.name, n, w)
            let population = dimension.baseline[group] ?? 0
            let populationText = group == "other" ? "–" : w.percent(population)
            rows.append("<div class=\"label\">\(name.html)</div>")
            if withholds("voice_share", dimension, group) {
                spoken.append(w(.voiceItem, name.text, w(.withheld), populationText))
                rows.append("<div><div class=\"track\"><div class=\"fill pop\" style=\"width:\(Self.width(population))%\"></div></div>"
                    + "<div class=\"value withheld\">\(Self.isolated(w(.withheld))) · \(Self.isolated(populationText))</div></div>")
                continue
            }
            let voice = dimension.voiceShare[group] ?? 0
            let heard = (dimension.listed[group] ?? 0) > 0
            let voiceText = heard ? w.percent(voice) : w(.nobody)
            spoken.append(w(.voiceItem, name.text, voiceText, populationText))
            rows.append("<div><div class=\"track\"><div class=\"fill\" style=\"width:\(Self.width(voice))%\"></div>"
                + "<div class=\"fill pop\" style=\"width:\(Self.width(population))%\"></div></div>"
                + "<div class=\"value\"><bdi class=\"\(heard ? "" : "zero")\">\(e(voiceText))</bdi> · \(Self.isolated(populationText))</div></div>")
        }
        let label = w(.voiceAgainstPopulation, n.dimension(dimension.name).text) + ". " + w.lists(spoken)
        return "<div class=\"bars\" role=\"img\" aria-label=\"\(e(label))\">" + rows.joined()
            + "</div><p class=\"value\">\(e(w(.voiceLegend)))</p>"
    }

    /// Representation ratios on a scale that shows over-representation: ticks at the policy's line, 1
    /// and beyond. Under the line a bar is hatched and its value marked ▼, not only coloured.
    func ratioBars(_ dimension: ConsultationMetrics.Dimension, _ w: Words) -> String {
        let e = Self.escape
        let n = naming(w)
        let names = dimension.baseline.keys.sorted()
        let largest = names.compactMap { withholds("representation_ratio", dimension, $0) ? nil : (dimension.representationRatio[$0] ?? nil) }.max() ?? 0
        let top = max(2, (largest * 2).rounded(.up) / 2)
        func at(_ ratio: Double) -> String { Self.width(ratio / top) }
        var ticks = [0, policy.minRatio, 1, 2]
        if top > 2 { ticks.append(top) }
        let scale = ticks.map { tick in
            let place = tick == 0 ? " class=\"first\"" : tick == top ? " class=\"last\"" : ""
            return "<span\(place) style=\"inset-inline-start:\(at(tick))%\">\(w.number(tick, places: 2))</span>"
        }.joined()
        var rows = ["<div></div><div class=\"scale\" aria-hidden=\"true\">\(scale)</div>"]
        var spoken: [String] = []
        let lines = "<div class=\"tick line\" style=\"inset-inline-start:\(at(policy.minRatio))%\"></div><div class=\"tick\" style=\"inset-inline-start:\(at(1))%\"></div>"
        for group in names {
            let name = n.group(group, in: dimension.name)
            rows.append("<div class=\"label\">\(name.html)</div>")
            if withholds("representation_ratio", dimension, group) {
                spoken.append(w(.ratioItem, name.text, w(.withheld)))
                rows.append("<div><div class=\"track\">\(lines)</div><div class=\"value withheld\">\(Self.isolated(w(.withheld)))</div></div>")
                continue
            }
            let ratio = (dimension.representationRatio[group] ?? nil) ?? 0
            let under = ratio < policy.minRatio
            let number = w.number(ratio, places: 2)
            // The figure isolated, the mark and the word in the report's own direction: "0.35 ▼ under-represented".
            let mark = under ? " ▼ " + w(.under) : ""
            spoken.append(w(.ratioItem, name.text, number + mark))
            rows.append("<div><div class=\"track\"><div class=\"fill\(under ? " under" : "")\" style=\"height:100%;width:\(at(ratio))%\"></div>\(lines)</div>"
                + "<div class=\"value\"><bdi class=\"\(ratio == 0 ? "zero" : "")\">\(e(number))</bdi>\(e(mark))</div></div>")
        }
        let label = w(.ratioTitle, n.dimension(dimension.name).text) + ". " + w.lists(spoken)
        return "<div class=\"bars\" role=\"img\" aria-label=\"\(e(label))\">" + rows.joined()
            + "</div><p class=\"value\">\(e(w(.ratioLegend, w.number(policy.minRatio, places: 2))))</p>"
    }

    func topicList(_ w: Words) -> String {
        guard !facts.topics.isEmpty else { return "<p>\(Self.escape(w(.noTopics)))</p>" }
        let threshold = suppression?.threshold ?? 0
        let items = facts.topics.map { topic, count in
            "<li><bdi>\(Self.escape(topic))</bdi>: \(Self.isolated(count < threshold ? w(.fewerThan, String(threshold)) : String(count)))</li>"
        }
        return "<ul>" + items.joined() + "</ul>"
    }

    /// Submissions and first feedback per day, as columns that share the width whatever the number of days.
    func dayBars(_ w: Words) -> String {
        let days = daily
        let withheld = withheld(in: days)
        // The scale from shown counts only: a withheld day's count must not surface as the maximum.
        let top = max(1, days.map {
            max(withheld.submissions.contains($0.day) ? 0 : $0.submissions, withheld.feedback.contains($0.day) ? 0 : $0.feedback)
        }.max() ?? 1)
        func bar(_ count: Int, held: Bool, feedback: Bool, _ day: String) -> String {
            if held { return "<span class=\"held\" title=\"\(day): \(Self.escape(w(.withheld)))\"></span>" }
            return "<span class=\"\(feedback ? "fb" : "")\" style=\"height:\(Self.width(Double(count) / Double(top)))%\" title=\"\(day): \(count)\"></span>"
        }
        let label = days.first.map { w(.overTimeAlt, $0.day, days.last!.day, String(top)) } ?? w(.overTime)
        var parts = ["<div class=\"days\" role=\"img\" aria-label=\"\(Self.escape(label))\">"]
        for day in days {
            parts.append("<div class=\"day\">" + bar(day.submissions, held: withheld.submissions.contains(day.day), feedback: false, day.day)
                + bar(day.feedback, held: withheld.feedback.contains(day.day), feedback: true, day.day) + "</div>")
        }
        parts.append("</div>")
        if let first = days.first, let last = days.last {
            parts.append("<div class=\"range\" aria-hidden=\"true\">\(Self.isolated(first.day))\(Self.isolated(last.day))</div>")
        }
        parts.append("<p class=\"value\">\(Self.escape(w(.overTimeLegend, String(top))))</p>")
        return parts.joined()
    }

    /// A share as a CSS width in percent, within 0…100.
    static func width(_ share: Double) -> String { String(format: "%.2f", min(100, max(0, share * 100))) }
}

/// The index of `report --all --format html`: every consultation, its verdict, a link to its report.
struct ReportIndex {
    let entries: [(id: String, title: Naming.Name, convener: Naming.Name, verdict: String, submissions: String)]

    func html(made: String, words w: Words) -> String {
        let e = ReportContent.escape
        var rows: [String] = []
        for entry in entries {
            rows.append("<tr><td><a href=\"\(e(entry.id)).html\">\(entry.title.html)</a></td><td>\(entry.convener.html)</td>"
                + "<td><span class=\"verdict \(entry.verdict)\">\(e(w.name(entry.verdict)))</span></td><td>\(ReportContent.isolated(entry.submissions))</td></tr>")
        }
        return """
            <!DOCTYPE html>
            <html lang="\(w.language.rawValue)" dir="\(w.language.rightToLeft ? "rtl" : "ltr")"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(e(w(.index)))</title><style>\(ReportContent.style)</style></head>
            <body>
            <h1>\(e(w(.index)))</h1>
            <table><thead><tr><th>\(e(w(.title, "")).trimmingCharacters(in: CharacterSet(charactersIn: " :")))</th><th>\(e(w(.convener)))</th><th>\(e(w(.verdict)))</th><th>\(e(w(.submissions)))</th></tr></thead><tbody>
            \(rows.joined(separator: "\n"))
            </tbody></table>
            <footer><p class="made">\(w.html(.made, ReportContent.isolated(made)))</p></footer>
            </body></html>

            """
    }
}

/// What a report tells beyond the metrics, read from the fold and, as of the fold's position, the log.
struct ReportFacts {
    /// Submissions per kind of organisation (its profile when it submitted), most first.
    var byKind: [(kind: String, submissions: Int)] = []
    /// The topics submissions name, with how many name each, most first (at most 20).
    var topics: [(topic: String, submissions: Int)] = []
    /// The latest outcome published by the position: its summary and how many counted submissions it cites.
    var outcome: (summary: String, cited: Int)?
    var withFeedback = 0
    /// The consultation's names by language as of the fold's position (admission never needs them, so
    /// the fold does not keep them: they are read from the consultation's stream).
    var names = NameBook()

    init(consultation: Consultation, fold: LogFold, store: EventStore) throws {
        names = NameBook.current(in: try store.read(stream: Streams.consultation(consultation.id))
            .filter { $0.position <= fold.position }.map { try $0.decoded() })
        let records = fold.activeSubmissions(of: consultation.id)
        var kinds: [String: Int] = [:]
        for record in records { kinds[record.profile?.type ?? "unknown", default: 0] += 1 }
        byKind = kinds.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
        withFeedback = records.filter { $0.firstFeedbackAt != nil }.count
        topics = try store.connection.execute(
            """
            SELECT t.topic, count(*) AS n
              FROM consult.events e
             CROSS JOIN LATERAL jsonb_array_elements_text(
                   CASE WHEN jsonb_typeof(e.data->'submission'->'topics') = 'array' THEN e.data->'submission'->'topics' ELSE '[]' END) AS t(topic)
             WHERE e.type = $1 AND e.data->>'consultation' = $2 AND e.position <= $3
               AND NOT EXISTS (SELECT FROM consult.events w WHERE w.stream = e.stream AND w.type = $4 AND w.position <= $3)
             GROUP BY t.topic ORDER BY n DESC, t.topic LIMIT 20
            """, [EventType.submissionReceived, consultation.id, fold.position, EventType.submissionWithdrawn]
        ).rows.map { (try $0.get("topic"), try $0.get("n")) }
        if let row = try store.connection.execute(
            """
            SELECT data->>'summary' AS summary FROM consult.events
             WHERE stream = $1 AND type = $2 AND position <= $3 ORDER BY position DESC LIMIT 1
            """, [Streams.consultation(consultation.id), EventType.outcomePublished, fold.position]
        ).first {
            outcome = (try row.get("summary"), records.filter { fold.isCited($0) }.count)
        }
    }
}
