import JSON
import Domain
import Foundation
import LineProtocol
import TestSupport
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The demo, the reports and the deployment files, as an operator and an analyst use them.
final class ReportTests: XCTestCase {
    static let demoConsultations = [
        "edu-jordan", "health-colombia", "livelihoods-kenya", "protection-europe", "shelter-uganda", "water-lebanon",
    ]

    func consultctl(_ arguments: [String], _ fixture: Fixture) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestDatabase.run(try TestDatabase.executable("consultctl"), arguments + ["--database", fixture.conninfo])
    }

    /// The demo's metrics, without median_days_to_feedback (it measures log time, which differs per run).
    func demoMetrics(_ fixture: Fixture) throws -> [JSONValue] {
        var all: [JSONValue] = []
        for id in Self.demoConsultations {
            let result = try consultctl(["query", "metrics", "--consultation", id, "--format", "json"], fixture)
            XCTAssertEqual(result.status, 0, result.stderr)
            guard case .array(let items) = try JSONParser().parse(result.stdout), case .object(let members) = items[0] else {
                XCTFail("not a JSON array of objects")
                continue
            }
            all.append(.object(members.filter { $0.0 != "median_days_to_feedback" }))
        }
        return all
    }

    func testDemoIsDeterministicAndItsNumbersAreTheOnesPlanned() throws {
        let first = try Fixture()
        let second = try Fixture()
        for fixture in [first, second] {
            let loaded = try consultctl(["demo", "--seed", "7", "--port", String(fixture.daemon.port)], fixture)
            XCTAssertEqual(loaded.status, 0, loaded.stderr)
            XCTAssertEqual(loaded.stdout, "demo loaded: 60 organisations, 6 consultations, 3700 submissions\n")
        }
        let metrics = try demoMetrics(first)
        XCTAssertEqual(metrics, try demoMetrics(second), "the same seed gives the same metrics")

        // A few numbers checked by hand against the plan in Demo.swift.
        let submissions = metrics.map { $0["submissions"] }
        XCTAssertEqual(submissions, [.number("1200"), .number("600"), .number("900"), .number("500"), .number("300"), .number("200")])
        XCTAssertEqual(metrics[0]["stage_coverage"], .number("1"))
        // Sudanese refugees are 3 % of the Jordan baseline but weighted 0.1 in the plan: barely heard.
        guard case .array(let worst)? = metrics[0]["underrepresented"]?["country_of_origin"] else { return XCTFail("no list") }
        XCTAssertTrue(worst.contains(.string("SDN")), "\(worst)")
        // Kenya's outcome cites nothing: influence 0.
        XCTAssertEqual(metrics[2]["influence_rate"], .number("0"))
        let refusedTwice = try consultctl(["demo", "--seed", "7", "--port", String(first.daemon.port)], first)
        XCTAssertEqual(refusedTwice.status, 1)
        XCTAssertEqual(refusedTwice.stderr, "consultctl: the demo data is already loaded in this database\n")

        // With the demo's policy (feedback judged at the close), every verdict is there to see.
        let audit = try consultctl(["query", "audit", "--policy", policy("demo.json"), "--format", "json"], first)
        XCTAssertEqual(audit.status, 0, audit.stderr)
        var verdicts: [String: String] = [:]
        guard case .array(let audits) = try JSONParser().parse(audit.stdout) else { return XCTFail(audit.stdout) }
        for entry in audits {
            if let id = entry["consultation"]?.stringValue, let verdict = entry["verdict"]?.stringValue { verdicts[id] = verdict }
        }
        XCTAssertEqual(verdicts["shelter-uganda"], "meaningful", audit.stdout)
        XCTAssertEqual(verdicts["water-lebanon"], "tokenistic", audit.stdout)
        XCTAssertEqual(verdicts["edu-jordan"], "partial")
        XCTAssertEqual(Set(verdicts.values), ["meaningful", "partial", "tokenistic"])
    }

    func policy(_ name: String) -> String {
        TestDatabase.repositoryRoot.appendingPathComponent("policy").appendingPathComponent(name).path
    }

    /// With consultd unreachable the demo writes nothing, says why in one line, and can run later.
    func testDemoWithConsultdDownWritesNothing() throws {
        let fixture = try Fixture()
        let head = try fixture.store.headPosition()
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let refused = try consultctl(["demo", "--port", String(fixture.daemon.port)], fixture)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("consultctl: cannot reach consultd at 127.0.0.1:"), refused.stderr)
        XCTAssertTrue(refused.stderr.hasSuffix("nothing was written\n"), refused.stderr)
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1)
        XCTAssertEqual(try fixture.store.headPosition(), head, "nothing was written")
    }

    func testEveryReportFormatSaysWhatAnAnalystNeedsAndIsStableAtAPosition() throws {
        let fixture = try Fixture()
        XCTAssertEqual(try consultctl(["demo", "--port", String(fixture.daemon.port)], fixture).status, 0)
        let position = try fixture.store.headPosition()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reports-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }

        var firstRun: [String: String] = [:]
        for run in 0..<2 {
            for format in ["md", "html", "csv", "json"] {
                let result = try consultctl(
                    ["report", "--consultation", "edu-jordan", "--format", format, "--out", folder.path, "--as-of", String(position)], fixture)
                XCTAssertEqual(result.status, 0, result.stderr)
                let text = try String(contentsOf: folder.appendingPathComponent("edu-jordan.\(format)"), encoding: .utf8)
                XCTAssertTrue(text.contains("\(position)"), "\(format) states the position")
                XCTAssertTrue(text.contains("partial"), "\(format) states the verdict")
                XCTAssertTrue(text.contains("policy") || text.contains("Policy"), "\(format) states the policy")
                if run == 0 {
                    firstRun[format] = text
                } else {
                    // Only the line that says when the report was made may differ.
                    let before = firstRun[format]!.split(separator: "\n", omittingEmptySubsequences: false)
                    let after = text.split(separator: "\n", omittingEmptySubsequences: false)
                    XCTAssertEqual(before.count, after.count)
                    let differing = zip(before, after).filter { $0 != $1 }
                    XCTAssertLessThanOrEqual(differing.count, 1, "\(format): \(differing)")
                    XCTAssertTrue(differing.allSatisfy { $0.0.contains("made") }, "\(format): \(differing)")
                }
            }
        }
        let markdown = firstRun["md"]!
        XCTAssertTrue(markdown.contains("Verdict: partial."), markdown)
        XCTAssertTrue(markdown.contains("| Syria | "), "a group's row, by its name")
        XCTAssertFalse(markdown.contains("0.000"), "rounded as a person would")
        // The JSON report is one document (json.load reads it), made-at inside.
        guard case .object = try JSONParser().parse(firstRun["json"]!) else { return XCTFail("the JSON report is one object") }
        XCTAssertNotNil(try JSONParser().parse(firstRun["json"]!)["made"])
        // The CSV is one tidy table: one header, a kind column, every row as wide, no comment lines.
        let csv = firstRun["csv"]!
        XCTAssertTrue(csv.hasPrefix("kind,consultation,position,metric,dimension,group_name,value,status,suppressed\r\n"), csv)
        XCTAssertTrue(csv.contains("verdict,edu-jordan,\(position),verdict,,,,partial,false\r\n"), csv)
        XCTAssertFalse(csv.contains("\n#"), "no comment lines")
        let widths = Set(csv.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).count })
        XCTAssertEqual(widths, [9], "every row has the header's columns (no field here holds a comma)")

        // The HTML is well-formed XML: a section per part of the story, bars per dimension (3).
        let html = firstRun["html"]!
        let parser = XMLParser(data: Data(html.utf8))
        XCTAssertTrue(parser.parse(), "well-formed: \(String(describing: parser.parserError))")
        XCTAssertEqual(html.components(separatedBy: "class=\"bars\"").count - 1, 2 * 3)
        XCTAssertFalse(html.contains("<script"), "no script needed")
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"),
                       "nothing fetched from the network")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(Set(files), ["edu-jordan.md", "edu-jordan.html", "edu-jordan.csv", "edu-jordan.json"], "no temporary files left")
    }

    /// Small groups are withheld in every format, with their complements, and the report says so;
    /// nothing withheld can be worked back from what is shown. --no-suppress shows them, saying so.
    func testReportsSuppressSmallCellsAndTheirComplements() throws {
        let fixture = try Fixture()
        for (index, organisation) in ["org-a", "org-b"].enumerated() {
            let client = try fixture.client(as: organisation)
            for n in 0..<5 {
                let gender = index == 1 && n < 2 ? "male" : "female"   // 8 female, 2 male
                let body = #"{"stage": "design", "language": "ar", "text": "t", "represents": {"gender": ["\#(gender)"], "age": ["18-24"]}}"#
                XCTAssertTrue(try client.request("SUBMIT c1 s\(n) \(body)").hasPrefix("OK SUBMIT"))
            }
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("suppressed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var files: [String: String] = [:]
        for format in ["json", "csv", "md", "html"] {
            XCTAssertEqual(try consultctl(["report", "--consultation", "c1", "--format", format, "--out", folder.path], fixture).status, 0)
            files[format] = try String(contentsOf: folder.appendingPathComponent("c1.\(format)"), encoding: .utf8)
        }
        let report = try JSONParser().parse(files["json"]!)
        XCTAssertEqual(report["suppression"]?["applied"], .bool(true))
        XCTAssertEqual(report["suppression"]?["min_cell"], .number("5"))
        let metrics = report["metrics"]!
        XCTAssertEqual(metrics.value(at: ["submissions"]), .number("10"))
        // Male (2) is withheld, and female with it: else 1 − female would give male away.
        for group in ["male", "female"] {
            XCTAssertEqual(metrics.value(at: ["voice_share", "gender", group]), .null, group)
            XCTAssertEqual(metrics.value(at: ["representation_ratio", "gender", group]), .null, group)
        }
        XCTAssertEqual(metrics.value(at: ["representativeness", "gender"]), .null)
        XCTAssertEqual(metrics.value(at: ["dissimilarity", "gender"]), .null)
        XCTAssertEqual(metrics.value(at: ["voice_share", "age", "18-24"]), .number("1"), "10 of 10: shown")
        XCTAssertEqual(metrics.value(at: ["voice_share", "age", "60+"]), .number("0"), "nobody spoke for them: shown")
        // In every dimension, a withheld share is never alone (one unknown would be 1 minus the rest).
        if case .object(let dimensions)? = metrics["voice_share"] {
            for (name, shares) in dimensions {
                guard case .object(let groups) = shares else { continue }
                XCTAssertNotEqual(groups.filter { $0.1 == .null }.count, 1, "\(name): a lone withheld share")
            }
        }
        let representativeness = report["audit"]?["criteria"]?.arrayValue?.first { $0["criterion"] == .string("representativeness") }
        XCTAssertEqual(representativeness?["value"], .null)
        XCTAssertFalse(representativeness?["reason"]?.stringValue?.contains("0.") ?? true, "the reason does not quote the value")

        XCTAssertTrue(files["csv"]!.contains(",voice_share,gender,male,,,true\r\n"), files["csv"]!)
        XCTAssertTrue(files["csv"]!.contains("about,c1,"), files["csv"]!)
        XCTAssertTrue(files["md"]!.contains("| male | suppressed | 50% | suppressed |"), files["md"]!)
        XCTAssertTrue(files["md"]!.contains("Numbers from fewer than 5 submissions are withheld"), files["md"]!)
        XCTAssertFalse(files["html"]!.contains("20%"), "no bar or text gives the withheld share")
        XCTAssertTrue(files["html"]!.contains("<bdi>withheld</bdi> · <bdi>50%</bdi>"), "the withheld share beside its population share")

        XCTAssertEqual(try consultctl(["report", "--consultation", "c1", "--format", "json", "--out", folder.path, "--no-suppress"], fixture).status, 0)
        let exact = try JSONParser().parse(try String(contentsOf: folder.appendingPathComponent("c1.json"), encoding: .utf8))
        XCTAssertEqual(exact.value(at: ["metrics", "voice_share", "gender", "male"]), .number("0.2"))
        XCTAssertEqual(exact["suppression"]?["off"], .bool(true))
    }

    func testReportFailsWithOneLineAndLeavesNoFile() throws {
        let fixture = try Fixture()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reports-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let unknown = try consultctl(["report", "--consultation", "nope", "--format", "html", "--out", folder.path], fixture)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "consultctl: consultation: no consultation nope as of position \(try fixture.store.headPosition())\n")
        let down = try TestDatabase.run(
            try TestDatabase.executable("consultctl"),
            ["report", "--all", "--format", "md", "--out", folder.path, "--database", "host=127.0.0.1 port=1 connect_timeout=2"])
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.stderr.hasPrefix("consultctl: cannot reach the database:"), down.stderr)
        XCTAssertEqual(down.stderr.filter { $0 == "\n" }.count, 1, down.stderr)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        XCTAssertEqual(files, [])

        // A database nobody migrated: one sentence that says what to run.
        let bare = try TestDatabase.fresh(migrated: false)
        let unmigrated = try TestDatabase.run(try TestDatabase.executable("consultctl"), ["query", "metrics", "--database", bare])
        XCTAssertEqual(unmigrated.status, 1)
        XCTAssertEqual(unmigrated.stderr, "consultctl: this database has no consultd schema yet: run `consultctl migrate` (as the database's owner) first\n")

        // Quiet on success, for cron.
        let quiet = try consultctl(["report", "--quiet", "--all", "--format", "md", "--out", folder.path], fixture)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout + quiet.stderr, "")
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)), ["c1.md", "c-old.md"])
    }

    func testSystemdUnitsVerify() throws {
        let candidates = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        guard let analyze = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw XCTSkip("systemd-analyze is not installed here, so the unit files were not verified")
        }
        let folder = TestDatabase.repositoryRoot.appendingPathComponent("deploy/systemd")
        let units = ["consultd.service", "consultd-report.service", "consultd-report.timer"].map { folder.appendingPathComponent($0).path }
        let result = try TestDatabase.run(analyze, ["verify"] + units)
        // Missing binaries and users on a build machine are reported but are not syntax errors.
        let problems = result.stderr.split(separator: "\n").filter {
            !$0.contains("is not executable") && !$0.contains("No such file") && !$0.contains("not found") && !$0.contains("Failed to resolve")
        }
        XCTAssertTrue(problems.isEmpty, result.stderr)
    }
}

