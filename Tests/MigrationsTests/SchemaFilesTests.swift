import Domain
import Foundation
import Migrations
import PostgresClient
import TestSupport
import XCTest

/// The rules of schema/: a function is defined in one file, its own; event type names are written
/// once, in consult.event_types, and agree with Domain's.
final class SchemaFilesTests: XCTestCase {
    /// Every `.sql` file under schema/, by its path inside it.
    func schemaFiles() throws -> [(path: String, text: String)] {
        let root = TestDatabase.schemaDirectory
        guard let walker = FileManager.default.enumerator(atPath: root.path) else {
            throw TestEnvironmentError(description: "cannot read \(root.path)")
        }
        var files: [(String, String)] = []
        for case let path as String in walker where path.hasSuffix(".sql") {
            files.append((path, try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// The text without `--` comments (good enough for the scans here: no string in schema/ holds `--`).
    func code(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
    }

    func matches(_ pattern: String, in text: String, caseInsensitive: Bool = false) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    static let createFunction = #"\bCREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+((?:"?[A-Za-z_][A-Za-z0-9_]*"?\.)?"?[A-Za-z_][A-Za-z0-9_]*"?)"#

    func testNoFunctionIsDefinedInTwoFiles() throws {
        var definedIn: [String: [String]] = [:]
        let files = try schemaFiles()
        XCTAssertTrue(files.contains { $0.path.hasPrefix("functions/") })
        for file in files {
            let names = try matches(Self.createFunction, in: code(file.text), caseInsensitive: true).map { $0.replacingOccurrences(of: "\"", with: "").lowercased() }
            for name in names { definedIn[name, default: []].append(file.path) }
            if file.path.hasPrefix("functions/") {
                // One job per file, and the file says which: functions/NAME.sql defines consult.NAME.
                let stem = String(file.path.dropFirst("functions/".count).dropLast(".sql".count))
                XCTAssertEqual(names, ["consult.\(stem)"], "\(file.path) must define consult.\(stem) and nothing else")
            } else {
                XCTAssertEqual(names, [], "\(file.path): functions live in schema/functions/")
            }
        }
        for (name, paths) in definedIn where paths.count > 1 {
            XCTFail("\(name) is defined in \(paths.count) places: \(paths.joined(separator: ", "))")
        }
        XCTAssertGreaterThanOrEqual(definedIn.count, 9, "\(definedIn.keys.sorted())")
    }

    /// The scan finds what it looks for: a planted second definition is reported.
    func testTheScanFindsEveryWayOfWritingADefinition() throws {
        for text in [
            "CREATE FUNCTION consult.x() RETURNS int", "create or replace function consult.x()", "CREATE OR REPLACE\n  FUNCTION\tconsult.x (",
            "CREATE FUNCTION \"consult\".\"x\"()",
        ] {
            XCTAssertEqual(
                try matches(Self.createFunction, in: code(text), caseInsensitive: true).map { $0.replacingOccurrences(of: "\"", with: "").lowercased() }, ["consult.x"],
                text)
        }
        XCTAssertEqual(try matches(Self.createFunction, in: code("-- CREATE FUNCTION consult.x()"), caseInsensitive: true), [])
    }

    func testTheSQLEventTypesAreDomainsEventTypes() throws {
        // EventType.all holds every type EventType declares (it is kept by hand beside them).
        let source = try String(
            contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("Sources/Core/Domain/DomainEvent.swift"), encoding: .utf8)
        guard let start = source.range(of: "public enum EventType {"), let end = source.range(of: "\n}", range: start.upperBound..<source.endIndex) else {
            return XCTFail("no enum EventType in DomainEvent.swift")
        }
        let declared = try matches(#"public static let [A-Za-z]+ = "([A-Za-z]+)""#, in: String(source[start.upperBound..<end.lowerBound]))
        XCTAssertEqual(declared, EventType.all)
        XCTAssertEqual(EventType.all.count, 12)

        let connection = try Connection(try TestDatabase.fresh())
        func list(_ call: String) throws -> [String] {
            let row = try connection.execute("SELECT array_to_string(\(call), ',') AS names").first
            let names: String = try row?.get("names") ?? ""
            return names.isEmpty ? [] : names.split(separator: ",").map(String.init)
        }
        XCTAssertEqual(try list("consult.event_types()"), EventType.all)
        XCTAssertEqual(try list("consult.event_types('organisation', 'credential', 'consultation')"), Registry.eventTypes)
        XCTAssertEqual(
            try list("consult.event_types('organisation', 'consultation')"),
            [EventType.organisationRegistered, EventType.organisationProfileChanged, EventType.consultationOpened, EventType.consultationClosed])
        XCTAssertEqual(try list("consult.event_types('nothing')"), [])

        // Every subject schema/ asks for exists, and every event type name still written in schema/ (a
        // view's single type, the migrations before 011, the index of 010) is one of the list.
        let subjects: Set = ["organisation", "credential", "consultation", "submission", "feedback", "outcome", "erasure", "naming"]
        var asked = 0
        for file in try schemaFiles() {
            for arguments in try matches(#"consult\.event_types\(([^)]*)\)"#, in: code(file.text)) {
                for subject in try matches(#"'([^']*)'"#, in: arguments) {
                    asked += 1
                    XCTAssertTrue(subjects.contains(subject), "\(file.path): no event type is about \(subject)")
                }
            }
            for name in try matches(#"(?<!')'((?:Organisation|Credential|Consultation|Submission|Feedback|Outcome|Content)[A-Za-z]*)'(?!')"#, in: code(file.text)) {
                XCTAssertTrue(EventType.all.contains(name), "\(file.path): \(name) is no event type")
            }
        }
        XCTAssertGreaterThanOrEqual(asked, 8)
    }

    /// What the lists are for, event type by event type: the registry's types (and no other) notify
    /// consult_registry, and the consultation and organisation types (and no other) make an append
    /// decided as of an older position refuse with registry_moved.
    func testEachEventTypeNotifiesAndMovesTheRegistryAsDomainSays() throws {
        let conninfo = try TestDatabase.fresh()
        let listener = try Connection(conninfo)
        try listener.listen("consult_registry")
        let writer = try Connection(conninfo)
        let admission: Set = [
            EventType.organisationRegistered, EventType.organisationProfileChanged, EventType.consultationOpened, EventType.consultationClosed,
        ]
        for type in EventType.all {
            let position: Int64 = try writer.execute(
                "INSERT INTO consult.events (event_id, stream, version, type, data) VALUES (gen_random_uuid(), 'probe-' || $1, 1, $1, '{}') RETURNING position",
                [type]
            ).first?.get("position") ?? 0
            let notified = try listener.waitForNotifications(timeout: Registry.folds.contains(type) ? 5 : 0.3)
            XCTAssertEqual(notified.map(\.channel), Registry.folds.contains(type) ? ["consult_registry"] : [], type)
            let outcome: String = try writer.execute(
                """
                SELECT outcome FROM consult.append_batch_sealed(
                    ARRAY[gen_random_uuid()], ARRAY['after-' || $1], ARRAY['Probe'], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb],
                    ARRAY[NULL::bigint], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY[NULL::text],
                    ARRAY[NULL::uuid], ARRAY[NULL::text], $2::bigint)
                """, [type, position - 1]
            ).first?.get("outcome") ?? ""
            XCTAssertEqual(outcome, admission.contains(type) ? "registry_moved" : "appended", type)
        }
    }

    /// The index events_registry (010) keeps its list written out (re-making it reads the whole log):
    /// it must name exactly the registry's types.
    func testTheRegistryIndexNamesTheRegistrysTypes() throws {
        let connection = try Connection(try TestDatabase.fresh())
        let row = try connection.execute(
            "SELECT pg_get_expr(indpred, indrelid) AS predicate FROM pg_index WHERE indexrelid = 'consult.events_registry'::regclass"
        ).first
        let predicate: String = try row?.get("predicate") ?? ""
        let named = try matches(#"'([A-Za-z]+)'::text"#, in: predicate)
        XCTAssertEqual(Set(named), Set(Registry.eventTypes), predicate)
        XCTAssertEqual(named.count, Registry.eventTypes.count, predicate)
    }

    /// consult.event_types is computed when a statement is planned, so the planner still sees that
    /// the small index applies to the append's check and to the views; and analysts may call it.
    func testQueriesThatNameTypesThroughTheFunctionUseTheRegistryIndex() throws {
        let connection = try Connection(try TestDatabase.fresh())
        try connection.execute("SET enable_seqscan = off")
        for query in [
            "SELECT max(e.position) FROM consult.events e WHERE e.type = ANY (consult.event_types('organisation', 'consultation'))",
            "SELECT * FROM analytics.consultations", "SELECT * FROM analytics.organisations",
        ] {
            let plan = try connection.execute("EXPLAIN \(query)").rows.map { row -> String in try row.get("QUERY PLAN") }.joined(separator: "\n")
            XCTAssertTrue(plan.contains("events_registry"), "\(query):\n\(plan)")
        }
        let analyst = "analyst_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try connection.executeScript("CREATE ROLE \(analyst) IN ROLE consult_analyst")
        defer { _ = try? connection.executeScript("RESET ROLE; DROP ROLE \(analyst)") }
        try connection.executeScript("SET ROLE \(analyst)")
        for view in ["consultations", "organisations", "submissions_daily"] {
            XCTAssertNoThrow(try connection.execute("SELECT * FROM analytics.\(view)"), view)
        }
        XCTAssertThrowsError(try connection.execute("SELECT * FROM consult.events"))
        try connection.executeScript("RESET ROLE")
    }
}
