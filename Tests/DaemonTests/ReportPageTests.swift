import Foundation
import JSON
import TestSupport
import XCTest

/// The HTML report as a person meets it: rendered by headless Chromium, on a laptop and on a phone,
/// left to right and right to left, with nothing running off the page or cut off.
final class ReportPageTests: XCTestCase {
    /// What in `page` runs past the viewport or past its own box at `width` CSS pixels: measured by a
    /// script added to a copy of the page (the report itself has none), shown in a frame of that width
    /// (Chromium's window is never narrower than 500 px), read back from the DOM.
    func overflow(_ page: URL, width: Int) throws -> [String] {
        let probe = """
            <script>
            const bad = [];
            const view = document.documentElement.clientWidth;
            if (view !== \(width)) bad.push('viewport ' + view);
            if (document.documentElement.scrollWidth > view + 1) bad.push('page ' + document.documentElement.scrollWidth + ' > ' + view);
            for (const el of document.body.querySelectorAll('*')) {
              const box = el.getBoundingClientRect();
              const name = el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 30);
              if (box.width > 0 && (box.left < -1 || box.right > view + 1)) bad.push('outside ' + name + ' ' + Math.round(box.left) + '..' + Math.round(box.right));
              if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) bad.push('overflows ' + name + ' ' + el.scrollWidth + ' > ' + el.clientWidth);
            }
            document.body.setAttribute('data-overflow', JSON.stringify(bad.slice(0, 20)));
            </script>
            """
        let folder = page.deletingLastPathComponent()
        let probed = folder.appendingPathComponent("probe-\(UUID().uuidString).html")
        let frame = folder.appendingPathComponent("frame-\(UUID().uuidString).html")
        defer {
            try? FileManager.default.removeItem(at: probed)
            try? FileManager.default.removeItem(at: frame)
        }
        let html = try String(contentsOf: page, encoding: .utf8)
        try html.replacingOccurrences(of: "</body>", with: probe + "</body>").write(to: probed, atomically: true, encoding: .utf8)
        try """
            <html><body style="margin:0"><iframe id="f" src="\(probed.absoluteString)" style="width:\(width)px;height:900px;border:0"></iframe>
            <script>
            window.addEventListener('load', () => {
              const inner = document.getElementById('f').contentDocument;
              document.body.setAttribute('data-result', inner ? inner.body.getAttribute('data-overflow') : '["no access to the frame"]');
            });
            </script></body></html>
            """.write(to: frame, atomically: true, encoding: .utf8)
        let result = try TestDatabase.run(
            try Browser.chromium(), Browser.headless + ["--window-size=1400,900", "--virtual-time-budget=10000", "--dump-dom", frame.absoluteString])
        XCTAssertEqual(result.status, 0, result.stderr)
        let found = try Browser.attribute("data-result", in: result.stdout)
        return found.stringArray ?? ["unreadable: \(found)"]
    }

    /// The probe sees what it should: a page too wide for a phone is caught.
    func testTheProbeCatchesOverflow() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = folder.appendingPathComponent("wide.html")
        try "<html><body><div style=\"width:450px\">wide</div></body></html>".write(to: page, atomically: true, encoding: .utf8)
        XCTAssertEqual(try overflow(page, width: 500), [])
        XCTAssertFalse(try overflow(page, width: 400).isEmpty, "450 px in 400")
    }

    func testTheHTMLReportFitsALaptopAndAPhoneInEnglishAndArabic() throws {
        let fixture = try Fixture()
        let ctl = try TestDatabase.executable("consultctl")
        let loaded = try TestDatabase.run(ctl, ["demo", "--port", String(fixture.daemon.port), "--database", fixture.conninfo])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pages-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        for (language, subfolder) in [("en", "en"), ("ar", "ar"), ("fr", "fr")] {
            let made = try TestDatabase.run(
                ctl, ["report", "--all", "--format", "html", "--lang", language, "--policy", TestDatabase.repositoryRoot.appendingPathComponent("policy/demo.json").path, "--quiet",
                      "--out", folder.appendingPathComponent(subfolder).path, "--database", fixture.conninfo])
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        let english = try String(contentsOf: folder.appendingPathComponent("en/edu-jordan.html"), encoding: .utf8)
        XCTAssertTrue(english.contains("<html lang=\"en\" dir=\"ltr\">"))
        XCTAssertFalse(english.contains("<script"), "the report has no script")
        XCTAssertTrue(english.contains("Nobody spoke for:"), "unheard groups are named")
        XCTAssertTrue(english.contains("Syria"), "names, not codes, where the consultation gives them")
        XCTAssertTrue(english.contains("Verdict: partial."), "the verdict explained")
        let arabic = try String(contentsOf: folder.appendingPathComponent("ar/edu-jordan.html"), encoding: .utf8)
        XCTAssertTrue(arabic.contains("<html lang=\"ar\" dir=\"rtl\">") && arabic.contains("باختصار"), "Arabic, right to left")
        let french = try String(contentsOf: folder.appendingPathComponent("fr/edu-jordan.html"), encoding: .utf8)
        XCTAssertTrue(french.contains("<html lang=\"fr\" dir=\"ltr\">") && french.contains("En bref") && french.contains("Nous avons demandé"))
        XCTAssertTrue(french.contains("jugé à partir du"), "a criterion not yet judged says why in French")
        let index = try String(contentsOf: folder.appendingPathComponent("en/index.html"), encoding: .utf8)
        for id in ["edu-jordan", "shelter-uganda", "water-lebanon"] { XCTAssertTrue(index.contains("href=\"\(id).html\""), id) }
        XCTAssertTrue(index.contains("meaningful") && index.contains("tokenistic"), "the index gives each verdict")

        for page in ["en/edu-jordan.html", "ar/edu-jordan.html", "en/index.html", "ar/livelihoods-kenya.html", "fr/protection-europe.html"] {
            for width in [1280, 400] {
                XCTAssertEqual(try overflow(folder.appendingPathComponent(page), width: width), [], "\(page) at \(width) px")
            }
        }
    }
}
