import Domain
import EventLog
import PostgresClient
import Foundation
import TestSupport
import XCTest

/// Conveners' commands, as a convener runs them, seen through the daemon as an organisation sees them.
final class ConvenerCommandTests: XCTestCase {
    var fixture: Fixture!
    var consultctl = ""

    override func setUpWithError() throws {
        fixture = try Fixture()
        consultctl = try TestDatabase.executable("consultctl")
    }

    override func tearDown() { fixture = nil }

    /// Runs consultctl against the fixture's database; returns stdout, failing the test on a non-zero exit.
    @discardableResult
    func ctl(_ arguments: [String], expectFailure: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try TestDatabase.run(consultctl, [arguments[0]] + arguments.dropFirst() + ["--database", fixture.conninfo])
        if expectFailure {
            XCTAssertEqual(result.status, 1, file: file, line: line)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)", file: file, line: line)
            return result.stderr
        }
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return result.stdout
    }

    func token(in output: String) -> String {
        String(output.split(separator: "\n")[0].split(separator: " ").last!)
    }

    func testCredentialsAreIssuedRotatedAndRevoked() throws {
        let added = try ctl(["org", "add", "--id", "rlo-1", "--name", "Refugee-led One", "--type", "community_based",
                             "--leadership", "refugees,women", "--level", "local", "--country", "KEN"])
        let first = token(in: added)
        XCTAssertEqual(try LineClient(port: fixture.daemon.port).request("AUTH rlo-1 \(first)"), "OK AUTH rlo-1")

        // AUTH is answered from the registry in memory, which the consult_registry notification keeps
        // current: a revoked credential is refused once that notification arrives, within milliseconds.
        func refusedSoon(_ token: String) throws -> Bool {
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                if try LineClient(port: fixture.daemon.port).request("AUTH rlo-1 \(token)") == "ERR AUTH invalid credential" { return true }
            }
            return false
        }
        let rotated = token(in: try ctl(["org", "rotate-credential", "--id", "rlo-1"]))
        XCTAssertTrue(try refusedSoon(first))
        XCTAssertEqual(try LineClient(port: fixture.daemon.port).request("AUTH rlo-1 \(rotated)"), "OK AUTH rlo-1")

        try ctl(["org", "revoke", "--id", "rlo-1"])
        XCTAssertTrue(try refusedSoon(rotated))

        // No token and no hash is ever listed.
        let listed = try ctl(["org", "list", "--format", "json"])
        XCTAssertFalse(listed.contains(first) || listed.contains(Credentials.hash(first)))
        XCTAssertTrue(listed.contains(#""id":"rlo-1""#), listed)

        let before = try fixture.store.headPosition()
        XCTAssertTrue(try ctl(["org", "add", "--id", "rlo-1", "--name", "x", "--type", "ngo", "--level", "local", "--country", "KEN"],
                              expectFailure: true).contains("already exists"))
        XCTAssertTrue(try ctl(["org", "add", "--id", "rlo-2", "--name", "x", "--type", "ngo", "--leadership", "kings",
                               "--level", "local", "--country", "KEN"], expectFailure: true).contains("leadership: kings"))
        XCTAssertEqual(try fixture.store.headPosition(), before, "a refused command writes nothing")
    }

    func testConsultationLifecycleFeedbackAndOutcome() throws {
        let before = try fixture.store.headPosition()
        let refused = try ctl(["consultation", "open", "--id", "c2", "--title", "Health", "--convener", "WHO",
                               "--closes-at", "2099-01-01T00:00:00Z", "--stages", "design", "--languages", "en",
                               "--baseline", #"{"gender": {"female": 0.5, "male": 0.5}, "age": {"young": 0.7, "old": 0.2}}"#],
                              expectFailure: true)
        XCTAssertEqual(refused, "consultctl: baseline.age: shares sum to 0.8999999999999999, not 1\n")
        XCTAssertEqual(try fixture.store.headPosition(), before)

        try ctl(["consultation", "open", "--id", "c2", "--title", "Health", "--convener", "WHO",
                 "--closes-at", "2099-01-01T00:00:00Z", "--stages", "design,evaluation", "--languages", "en,sw",
                 "--baseline", #"{"gender": {"female": 0.5, "male": 0.5}}"#])
        let client = try fixture.client()
        XCTAssertTrue(try client.request("CONSULTATIONS").contains(#""id":"c2""#), "the daemon sees a consultation opened a moment ago")
        XCTAssertTrue(try client.request(#"SUBMIT c2 h1 {"stage": "evaluation", "language": "sw", "text": "Clinics close at noon."}"#).hasPrefix("OK SUBMIT h1"))

        try ctl(["feedback", "--consultation", "c2", "--organisation", "org-a", "--key", "h1", "--text", "Thank you; hours extended."])
        try ctl(["outcome", "--consultation", "c2", "--summary", "Clinic hours extended", "--cite", "org-a/h1"])
        let status = try client.request("STATUS c2 h1")
        XCTAssertTrue(status.contains(#""text":"Thank you; hours extended.""#), status)
        XCTAssertTrue(status.contains(#""cited_in_outcome":true"#), status)
        // A later outcome that drops the citation replaces the earlier one everywhere, STATUS included.
        try ctl(["outcome", "--consultation", "c2", "--summary", "Clinic hours revised"])
        let revised = try client.request("STATUS c2 h1")
        XCTAssertTrue(revised.contains(#""cited_in_outcome":false"#), revised)
        let participation = try ctl(["query", "participation", "--consultation", "c2", "--format", "csv"])
        XCTAssertTrue(participation.contains("c2,org-a,1,0,1,0"), participation)
        XCTAssertTrue(try ctl(["feedback", "--consultation", "c2", "--organisation", "org-b", "--key", "h1", "--text", "x"],
                              expectFailure: true).contains("no submission h1 of org-b"))

        try ctl(["consultation", "close", "--id", "c2"])
        XCTAssertTrue(try client.request(#"SUBMIT c2 h2 {"stage": "design", "language": "en", "text": "Late."}"#).hasPrefix("ERR CLOSED"))
        XCTAssertTrue(try ctl(["consultation", "list", "--format", "csv"]).contains("c2,Health,WHO,"))
    }

    /// A profile change counts for submissions made after it and leaves earlier ones as they were.
    func testOrganisationProfileUpdate() throws {
        let token = token(in: try ctl(["org", "add", "--id", "rlo-1", "--name", "Refugee-led One", "--type", "community_based",
                                       "--leadership", "refugees", "--level", "local", "--country", "KEN"]))
        let client = try LineClient(port: fixture.daemon.port)
        XCTAssertEqual(try client.request("AUTH rlo-1 \(token)"), "OK AUTH rlo-1")
        XCTAssertTrue(try client.request("SUBMIT c1 before \(Fixture.body)").hasPrefix("OK SUBMIT"))
        func metric(_ name: String) throws -> String {
            let json = try ctl(["query", "metrics", "--consultation", "c1", "--format", "json"])
            let range = try XCTUnwrap(json.range(of: "\"\(name)\":"), json)
            return String(json[range.upperBound...].prefix { $0 != "," && $0 != "}" })
        }
        XCTAssertEqual(try metric("affected_led_share"), "1")

        let updated = try ctl(["org", "update", "--id", "rlo-1", "--level", "national", "--leadership", ""])
        let position = try fixture.store.headPosition()
        XCTAssertEqual(updated, "updated rlo-1 at position \(position)\n")
        let listed = try ctl(["org", "list", "--format", "json"])
        XCTAssertTrue(listed.contains(#""id":"rlo-1","name":"Refugee-led One","type":"community_based","leadership":"","level":"national""#), listed)
        XCTAssertTrue(listed.contains(#""profile_changes":1"#) && listed.contains(#""profile_changed_position":\#(position)"#), listed)
        // The submission made under the old profile keeps it.
        XCTAssertEqual(try metric("affected_led_share"), "1")
        XCTAssertTrue(try client.request("SUBMIT c1 after \(Fixture.body)").hasPrefix("OK SUBMIT"))
        XCTAssertEqual(try metric("affected_led_share"), "0.5", "the next submission counts under the new profile")

        // Refusals write nothing, each with one line; the same profile again writes nothing either.
        let head = try fixture.store.headPosition()
        XCTAssertTrue(try ctl(["org", "update", "--id", "nope", "--level", "local"], expectFailure: true).contains("no organisation nope"))
        XCTAssertTrue(try ctl(["org", "update", "--id", "rlo-1", "--type", "kings"], expectFailure: true).contains("type: one of"))
        _ = try ctl(["org", "update", "--id", "rlo-1"], expectFailure: true)
        XCTAssertTrue(try ctl(["org", "update", "--id", "rlo-1", "--level", "national"]).contains("nothing written"))
        XCTAssertEqual(try fixture.store.headPosition(), head)
    }

    func testQueriesAsOfAPositionNeverChange() throws {
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 q1 \(Fixture.body)").hasPrefix("OK SUBMIT"))
        let position = try fixture.store.headPosition()
        let first = try ctl(["query", "metrics", "--as-of", String(position), "--format", "json"])
        XCTAssertTrue(first.contains(#""submissions":1"#), first)

        // More happens after that position: a submission from another organisation, a withdrawal, feedback.
        XCTAssertTrue(try fixture.client(as: "org-b").request("SUBMIT c1 q2 \(Fixture.body)").hasPrefix("OK SUBMIT"))
        try ctl(["feedback", "--consultation", "c1", "--organisation", "org-a", "--key", "q1", "--text", "Noted."])
        XCTAssertTrue(try client.request("WITHDRAW c1 q1").hasPrefix("OK WITHDRAW"))

        XCTAssertEqual(try ctl(["query", "metrics", "--as-of", String(position), "--format", "json"]), first)
        let now = try ctl(["query", "metrics", "--consultation", "c1", "--format", "json"])
        XCTAssertTrue(now.contains(#""submissions":1"#) && now.contains(#""organisations":1"#), now)

        let audit = try ctl(["query", "audit", "--consultation", "c1", "--format", "json"])
        XCTAssertTrue(audit.contains(#""verdict":"partial""#), audit)
        let table = try ctl(["query", "audit", "--consultation", "c1"])
        XCTAssertTrue(table.hasPrefix("as of log position "), table)
        let csv = try ctl(["query", "participation", "--format", "csv"])
        XCTAssertTrue(csv.hasPrefix("consultation,organisation,submissions,withdrawn,with_feedback,cited\r\n"), csv)
        XCTAssertTrue(try ctl(["query", "metrics", "--consultation", "nope"], expectFailure: true).contains("no consultation nope"))
        XCTAssertTrue(try ctl(["query", "metrics", "--as-of", "99999"], expectFailure: true).contains("not in the log"))
    }

    func testVerifyPassesOnAHealthyLogAndNamesWhatIsWrong() throws {
        XCTAssertTrue(try fixture.client().request("SUBMIT c1 v1 \(Fixture.body)").hasPrefix("OK SUBMIT"))
        let healthy = try ctl(["verify"])
        XCTAssertEqual(healthy.split(separator: "\n").count, 13, healthy)
        XCTAssertFalse(healthy.contains("FAIL"), healthy)

        // The owner disables a guard: verify notices.
        try fixture.store.connection.execute("ALTER TABLE consult.events DISABLE TRIGGER events_no_delete")
        let broken = try ctl(["verify"], expectFailure: true)
        XCTAssertEqual(broken, "consultctl: the log failed 1 check(s): the log's triggers (numbering, order check, append-only) are in place and enabled\n")
        try fixture.store.connection.execute("ALTER TABLE consult.events ENABLE TRIGGER events_no_delete")

        // An event no writer of consultd wrote (feedback without its key) is named by position.
        let bad = try fixture.store.append(NewEvent(stream: "feedback-x", type: EventType.feedbackGiven, data: JSONText(#"{"text": "x"}"#)))
        let result = try TestDatabase.run(consultctl, ["verify", "--database", fixture.conninfo])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("FAIL every event decodes as its type (position \(bad.position): FeedbackGiven.organisation: a string)"), result.stdout)

        // A stream whose versions skip one (changed behind the triggers' back) is found.
        try fixture.store.connection.execute("ALTER TABLE consult.events DISABLE TRIGGER USER")
        try fixture.store.connection.execute("UPDATE consult.events SET version = 5 WHERE stream = 'organisation-org-a' AND version = 2")
        let skipped = try TestDatabase.run(consultctl, ["verify", "--database", fixture.conninfo])
        XCTAssertTrue(skipped.stdout.contains("FAIL every stream's versions run 1, 2, 3, … without a gap (1 events whose stream lacks"), skipped.stdout)
    }
}
