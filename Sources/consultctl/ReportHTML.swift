import Domain
import Foundation
import Metrics
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
        tr.fail td{background:#fdecee}tr.pass td{background:#eaf6ee}
        .bars{display:grid;grid-template-columns:minmax(5rem,32%) minmax(0,1fr);gap:.35rem .6rem;align-items:center;margin:.5rem 0}
        .track{position:relative;height:1.5rem;background:#f1f3f6}
        .fill{position:absolute;inset-inline-start:0;top:0;height:55%;background:var(--voice)}
        .fill.pop{top:55%;height:45%;background:var(--pop)}
        .fill.under{background:var(--warn)}
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
        @media print{body{max-width:none;padding:0}.summary,.bars,table,figure{break-inside:avoid}h2{break-after:avoid}}
        """

    func html(made: String, words: Words) -> String {
        let e = Self.escape
        let w = words
        var body: [String] = []
        body.append("<header><h1>\(e(w(.title, consultation.title)))</h1>")
        body.append("<p class=\"meta\">\(e(w(.convenedBy, consultation.convener))) · \(e(windowText(w)))</p></header>")

        body.append("<section class=\"summary\" aria-label=\"\(e(w(.inShort)))\"><h2>\(e(w(.inShort)))</h2>")
        for sentence in summary(w) { body.append("<p>\(sentence)</p>") }
        body.append("</section>")

        // We asked: the consultation itself.
        body.append("<section><h2>\(e(w(.weAsked)))</h2><ul>")
        body.append("<li>\(e(w(.stages))): \(e(w.list(consultation.stages.map(w.name))))</li>")
        body.append("<li>\(e(w(.languages))): \(e(w.list(consultation.languages)))</li>")
        body.append("<li>\(e(w(.population))): \(e(w.list(consultation.dimensions.map(w.dimension))))</li></ul></section>")

        // You said: who took part, whose voice against the population, the topics.
        body.append("<section><h2>\(e(w(.youSaid)))</h2>")
        body.append("<h3>\(e(w(.byKind)))</h3>")
        body.append(kindTable(w))
        for dimension in metrics.dimensions {
            body.append("<h3>\(e(w(.voiceAgainstPopulation, w.dimension(dimension.name))))</h3>")
            body.append(voiceBars(dimension, w))
            body.append("<h3>\(e(w(.ratioTitle, w.dimension(dimension.name))))</h3>")
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
            body.append("<blockquote>\(e(outcome.summary))</blockquote>")
            body.append("<p>\(e(w(.citedCount, suppressedCount("influence_rate", outcome.cited, w))))</p>")
        } else {
            body.append("<p>\(e(w(.sNoOutcome)))</p>")
        }
        body.append("<h3>\(e(w(.feedback)))</h3><p>\(e(feedbackSentence(w)))</p></section>")

        body.append("<section><h2>\(e(w(.audit)))</h2>")
        body.append("<table><thead><tr><th>\(e(w(.criterion)))</th><th>\(e(w(.value)))</th><th>\(e(w(.threshold)))</th><th>\(e(w(.result)))</th><th>\(e(w(.why)))</th></tr></thead><tbody>")
        for criterion in audit.criteria {
            let (value, _) = shown(criterion)
            let shownValue = value == Self.withheld ? w(.withheld) : percentOrNumber(criterion, value, w)
            body.append("<tr class=\"\(criterion.status.rawValue)\"><td>\(e(w.name(criterion.name)))</td><td>\(e(shownValue))</td><td>\(e(threshold(criterion, w)))</td><td>\(e(w.name(criterion.status.rawValue)))</td><td>\(e(why(criterion, w)))</td></tr>")
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
        for line in aboutLines(w) { body.append("<p>\(e(line))</p>") }
        body.append("<p class=\"made\">\(e(w(.made, made)))</p></footer>")
        let direction = w.language.rightToLeft ? "rtl" : "ltr"
        return """
            <!DOCTYPE html>
            <html lang="\(w.language.rawValue)" dir="\(direction)"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(e(w(.title, consultation.title)))</title><style>\(Self.style)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }

    /// "Open from … to …", with an early close.
    func windowText(_ w: Words) -> String {
        let close = Audit.effectiveClose(of: consultation)
        var text = w(.window, Self.day(consultation.opensAt), Self.day(consultation.closesAt))
        if close < consultation.closesAt { text += " (" + w(.closedEarly, Self.day(close)) + ")" }
        return text
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

    /// Why a criterion passed or failed, in any language: the value against the threshold, and for
    /// representativeness and coverage the dimension and groups at fault. Not yet judged: the audit's reason.
    func why(_ criterion: Audit.Criterion, _ w: Words) -> String {
        let (value, reason) = shown(criterion)
        guard criterion.status != .insufficientData else { return notYet(criterion, w) ?? reason }
        guard value != Self.withheld else { return reason }
        let comparison = threshold(criterion, w)
        let sign = comparison.split(separator: " ").first.map(String.init) ?? ""
        let negated = sign == ">" ? "≤" : "<"
        var text = "\(percentOrNumber(criterion, value, w)) \(criterion.status == .pass ? sign : negated) \(comparison.dropFirst(sign.count + 1))"
        if criterion.status == .fail, ["representativeness", "coverage"].contains(criterion.name) {
            let fault = criterionFault(criterion, w)
            if let open = fault.firstIndex(of: "(") { text += " " + fault[open...] }
        }
        return text
    }

    /// Why a criterion cannot be judged yet, in the report's language (nil: the audit's own words).
    func notYet(_ criterion: Audit.Criterion, _ w: Words) -> String? {
        if metrics.submissions == 0 && criterion.name != "stage_coverage" && criterion.name != "window_days" { return w(.nyNoSubmissions) }
        switch criterion.name {
        case "feedback_rate":
            let close = Audit.effectiveClose(of: consultation)
            return w(.nyFeedbackFrom, Self.day(close.addingTimeInterval(policy.feedbackGraceDays * 86_400)),
                     w.number(policy.feedbackGraceDays, places: 1), Self.day(close))
        case "influence_rate": return w(.sNoOutcome)
        case "representativeness", "coverage": return w(.nyNoGroups)
        case "stage_coverage": return w(.nyNoStages)
        default: return nil
        }
    }

    /// The plain-language summary: one sentence per fact, from the numbers.
    func summary(_ w: Words) -> [String] {
        let e = Self.escape
        var sentences: [String] = []
        sentences.append(e(w(.sOrganisations, suppressedCount("organisations", metrics.organisations, w), suppressedCount("submissions", metrics.submissions, w))))
        if let share = percent("affected_led_share", metrics.affectedLedShare, w), metrics.submissions > 0 {
            sentences.append(e(w(.sAffected, share)))
        }
        var least: [String] = []
        var unheard: [String] = []
        for dimension in metrics.dimensions {
            for group in dimension.baseline.keys.sorted() where (dimension.baseline[group] ?? 0) > 0 {
                let name = consultation.label(group, in: dimension.name)
                if dimension.respondents > 0 && (dimension.listed[group] ?? 0) == 0 {
                    unheard.append("\(name) (\(w.dimension(dimension.name)))")
                } else if dimension.underrepresented.contains(group) {
                    least.append(withholds("representation_ratio", dimension, group)
                        ? "\(name) (\(w.dimension(dimension.name)))"
                        : w(.sLeastHeardItem, name, w.dimension(dimension.name), w.percent((dimension.representationRatio[group] ?? nil) ?? 0)))
                }
            }
        }
        if !least.isEmpty { sentences.append(e(w(.sLeastHeard, w.lists(least)))) }
        if !unheard.isEmpty { sentences.append("<span class=\"zero\">" + e(w(.sUnheard, w.list(unheard))) + "</span>") }
        if least.isEmpty && unheard.isEmpty && metrics.submissions > 0 {
            sentences.append(e(w(.sAllHeard, w.percent(policy.minRatio))))
        }
        let judged = audit.criteria.filter { $0.status != .insufficientData }
        let failing = audit.criteria.filter { $0.status == .fail }.map { criterionFault($0, w) }
        let verdict: String
        switch audit.verdict {
        case "meaningful": verdict = w(.sMeaningful)
        case "tokenistic": verdict = w(.sTokenistic, w.lists(failing))
        default: verdict = w(.sPartial, String(judged.count - failing.count), String(judged.count), w.lists(failing))
        }
        sentences.append("<span class=\"verdict \(audit.verdict)\">\(e(verdict))</span>")
        let notYet = audit.criteria.filter { $0.status == .insufficientData }.map { w.name($0.name) }
        if !notYet.isEmpty { sentences.append(e(w(.sNotYet, w.list(notYet)))) }
        sentences.append(e(feedbackSentence(w)))
        if facts.outcome != nil, let share = percent("influence_rate", metrics.influenceRate, w) {
            sentences.append(e(w(.sOutcome, share)))
        } else {
            sentences.append(e(w(.sNoOutcome)))
        }
        return sentences
    }

    /// A failing criterion and what is at fault: for representativeness and coverage, the dimension and groups.
    func criterionFault(_ criterion: Audit.Criterion, _ w: Words) -> String {
        let name = w.name(criterion.name)
        switch criterion.name {
        case "representativeness", "coverage":
            // Representativeness suffers from every group heard too little; coverage only from those not heard at all.
            let faults = metrics.dimensions.compactMap { dimension -> String? in
                let groups = dimension.baseline.keys.sorted().filter {
                    let unheard = dimension.respondents > 0 && (dimension.listed[$0] ?? 0) == 0
                    return unheard || (criterion.name == "representativeness" && dimension.underrepresented.contains($0))
                }
                guard !groups.isEmpty else { return nil }
                return "\(w.dimension(dimension.name)): " + w.list(groups.map { consultation.label($0, in: dimension.name) })
            }
            return faults.isEmpty ? name : "\(name) (\(w.lists(faults)))"
        default:
            let (value, _) = shown(criterion)
            guard value != Self.withheld else { return name }
            return "\(name) (\(percentOrNumber(criterion, value, w)), \(criterion.threshold))"
        }
    }

    func feedbackSentence(_ w: Words) -> String {
        guard facts.withFeedback > 0, let share = percent("feedback_rate", metrics.feedbackRate, w) else { return w(.sNoFeedback) }
        let median = suppression?.withholds(metric: "median_days_to_feedback", dimension: nil, group: nil) == true
            ? w(.withheld) : w.number(metrics.medianDaysToFeedback ?? 0, places: 1)
        return w(.sFeedback, share, median)
    }

    func aboutLines(_ w: Words) -> [String] {
        var lines = [w(.position, String(fold.position))]
        if let checkpoint {
            lines.append(w(.checkpoint, String(checkpoint.size), checkpoint.root.hex, checkpoint.keyID, Data(checkpoint.signature).base64EncodedString()))
        } else {
            lines.append(w(.noCheckpoint))
        }
        lines.append(w(.policy, policyName))
        if let suppression {
            lines.append(suppression.applied
                ? w(.suppressionOn, String(suppression.threshold), String(suppression.paths.count))
                : w(.suppressionNothing, String(suppression.threshold)))
        } else {
            lines.append(w(.suppressionOff))
        }
        return lines
    }

    func kindTable(_ w: Words) -> String {
        let e = Self.escape
        var rows = ["<table><thead><tr><th>\(e(w(.kindOfOrganisation)))</th><th>\(e(w(.submissions)))</th><th>\(e(w(.share)))</th></tr></thead><tbody>"]
        let held = Set(suppression.map { Suppression.cells(facts.byKind.map { ($0.kind, $0.submissions) }, threshold: $0.threshold) } ?? [])
        for (kind, count) in facts.byKind {
            let shown = held.contains(kind) ? (w(.fewerThan, String(suppression!.threshold)), w(.withheld)) : (String(count), w.percent(Double(count) / Double(max(1, metrics.submissions))))
            rows.append("<tr><td>\(e(w.name(kind)))</td><td>\(e(shown.0))</td><td>\(e(shown.1))</td></tr>")
        }
        return rows.joined() + "</tbody></table>"
    }

    /// Voice (dark) over population (light) per group; a group nobody spoke for is named at zero.
    func voiceBars(_ dimension: ConsultationMetrics.Dimension, _ w: Words) -> String {
        let e = Self.escape
        var parts = ["<div class=\"bars\" role=\"img\" aria-label=\"\(e(w(.voiceAgainstPopulation, w.dimension(dimension.name))))\">"]
        for group in groups(dimension) {
            let name = group == "other" ? w.name("other") : consultation.label(group, in: dimension.name)
            let population = dimension.baseline[group] ?? 0
            let populationText = group == "other" ? "–" : w.percent(population)
            parts.append("<div class=\"label\">\(e(name))</div>")
            if withholds("voice_share", dimension, group) {
                parts.append("<div><div class=\"track\"><div class=\"fill pop\" style=\"width:\(Self.width(population))%\"></div></div>"
                    + "<div class=\"value withheld\">\(e(w(.withheld))) · \(e(populationText))</div></div>")
                continue
            }
            let voice = dimension.voiceShare[group] ?? 0
            let heard = (dimension.listed[group] ?? 0) > 0
            let voiceText = heard ? w.percent(voice) : w(.nobody)
            parts.append("<div><div class=\"track\"><div class=\"fill\" style=\"width:\(Self.width(voice))%\"></div>"
                + "<div class=\"fill pop\" style=\"width:\(Self.width(population))%\"></div></div>"
                + "<div class=\"value\"><span class=\"\(heard ? "" : "zero")\">\(e(voiceText))</span> · \(e(populationText))</div></div>")
        }
        parts.append("</div><p class=\"value\">\(e(w(.voiceLegend)))</p>")
        return parts.joined()
    }

    /// Representation ratios on a scale that shows over-representation: ticks at the policy's line, 1 and beyond.
    func ratioBars(_ dimension: ConsultationMetrics.Dimension, _ w: Words) -> String {
        let e = Self.escape
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
        var parts = ["<div class=\"bars\" role=\"img\" aria-label=\"\(e(w(.ratioTitle, w.dimension(dimension.name))))\"><div></div><div class=\"scale\">\(scale)</div>"]
        let lines = "<div class=\"tick line\" style=\"inset-inline-start:\(at(policy.minRatio))%\"></div><div class=\"tick\" style=\"inset-inline-start:\(at(1))%\"></div>"
        for group in names {
            parts.append("<div class=\"label\">\(e(consultation.label(group, in: dimension.name)))</div>")
            if withholds("representation_ratio", dimension, group) {
                parts.append("<div><div class=\"track\">\(lines)</div><div class=\"value withheld\">\(e(w(.withheld)))</div></div>")
                continue
            }
            let ratio = (dimension.representationRatio[group] ?? nil) ?? 0
            let under = ratio < policy.minRatio
            parts.append("<div><div class=\"track\"><div class=\"fill\(under ? " under" : "")\" style=\"height:100%;width:\(at(ratio))%\"></div>\(lines)</div>"
                + "<div class=\"value\"><span class=\"\(ratio == 0 ? "zero" : "")\">\(w.number(ratio, places: 2))</span></div></div>")
        }
        parts.append("</div><p class=\"value\">\(e(w(.ratioLegend, w.number(policy.minRatio, places: 2))))</p>")
        return parts.joined()
    }

    func topicList(_ w: Words) -> String {
        guard !facts.topics.isEmpty else { return "<p>\(Self.escape(w(.noTopics)))</p>" }
        let threshold = suppression?.threshold ?? 0
        let items = facts.topics.map { topic, count in
            "<li>\(Self.escape(topic)): \(Self.escape(count < threshold ? w(.fewerThan, String(threshold)) : String(count)))</li>"
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
        var parts = ["<div class=\"days\" role=\"img\" aria-label=\"\(Self.escape(w(.overTime)))\">"]
        for day in days {
            parts.append("<div class=\"day\">" + bar(day.submissions, held: withheld.submissions.contains(day.day), feedback: false, day.day)
                + bar(day.feedback, held: withheld.feedback.contains(day.day), feedback: true, day.day) + "</div>")
        }
        parts.append("</div>")
        if let first = days.first, let last = days.last {
            parts.append("<div class=\"range\"><span>\(first.day)</span><span>\(last.day)</span></div>")
        }
        parts.append("<p class=\"value\">\(Self.escape(w(.overTimeLegend, String(top))))</p>")
        return parts.joined()
    }

    /// A share as a CSS width in percent, within 0…100.
    static func width(_ share: Double) -> String { String(format: "%.2f", min(100, max(0, share * 100))) }
}

/// The index of `report --all --format html`: every consultation, its verdict, a link to its report.
struct ReportIndex {
    let entries: [(id: String, title: String, convener: String, verdict: String, submissions: String)]

    func html(made: String, words w: Words) -> String {
        let e = ReportContent.escape
        var rows: [String] = []
        for entry in entries {
            rows.append("<tr><td><a href=\"\(e(entry.id)).html\">\(e(entry.title))</a></td><td>\(e(entry.convener))</td>"
                + "<td><span class=\"verdict \(entry.verdict)\">\(e(w.name(entry.verdict)))</span></td><td>\(e(entry.submissions))</td></tr>")
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
            <footer><p class="made">\(e(w(.made, made)))</p></footer>
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

    init(consultation: Consultation, fold: LogFold, store: EventStore) throws {
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
