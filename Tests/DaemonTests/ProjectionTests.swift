import EventRecords
import JSON
import Domain
import EventLog
import Foundation
import LineProtocol
import Participation
import PostgresClient
import Projections
import TestSupport
import XCTest

/// The projection tables that consultd keeps, against the fold of the log from position 0.
final class ProjectionTests: XCTestCase {
    /// Waits (on the projector's NOTIFY, not by sleeping) until the projection has reached `position`.
    func waitForProjection(_ conninfo: String, reaching position: Int64, file: StaticString = #filePath, line: UInt = #line) throws {
        let listener = try Connection(conninfo)
        try listener.listen("consult_projection")
        let deadline = Date().addingTimeInterval(60)
        while true {
            let checkpoint: Int64 = try listener.execute(
                "SELECT position FROM consult.projection_checkpoint WHERE name = 'metrics'").first!.get("position")
            if checkpoint >= position { return }
            guard Date() < deadline else {
                XCTFail("projection stuck at \(checkpoint), wanted \(position)", file: file, line: line)
                return
            }
            _ = try listener.waitForNotifications(timeout: 5)
        }
    }

    /// The fold's metric rows for every consultation, as "consultation metric dimension group" → value.
    func foldRows(_ store: EventStore, upTo position: Int64) throws -> [String: Double?] {
        var fold = LogFold()
        for event in try store.read(after: 0, limit: 1_000_000) where event.position <= position { try fold.apply(event) }
        return rows(of: fold)
    }

    func rows(of fold: LogFold) -> [String: Double?] {
        let rows = fold.registry.consultations.keys.compactMap { ConsultationMetrics(consultation: $0, fold: fold, minRatio: 0.5) }
            .flatMap(\.rows)
        return Dictionary(uniqueKeysWithValues: rows.map { ("\($0.consultation) \($0.metric) \($0.dimension ?? "") \($0.group ?? "")", $0.value) })
    }

    func projectedRows(_ connection: Connection) throws -> [String: Double?] {
        Dictionary(uniqueKeysWithValues: try connection.execute(
            "SELECT consultation, metric, dimension, grp, value FROM consult.metric_values").rows.map { row in
                ("\(try row.get("consultation", as: String.self)) \(try row.get("metric", as: String.self)) "
                    + "\(try row.get("dimension", as: String.self)) \(try row.get("grp", as: String.self))",
                 try row.optional("value", as: Double.self))
            })
    }

    func assertSame(_ projected: [String: Double?], _ folded: [String: Double?], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(projected.keys), Set(folded.keys), file: file, line: line)
        for (key, value) in folded {
            switch (value, projected[key] ?? nil) {
            case (nil, nil): continue
            case (let a?, let b?): XCTAssertEqual(a, b, accuracy: 1e-9, key, file: file, line: line)
            default: XCTFail("\(key): projected \(String(describing: projected[key])), folded \(String(describing: value))", file: file, line: line)
            }
        }
    }

    /// Random histories in random batches: the live projection equals the fold from zero, and what the
    /// projection showed when the log stood at P equals the fold as of P afterwards.
    func testLiveProjectionEqualsTheFoldAndAsOfIsStable() throws {
        var fixture = try Fixture()
        var random = SeededGenerator(seed: 7)
        var submitted: [(String, String)] = []
        var consultations = ["c1"]
        var snapshots: [(Int64, [String: Double?])] = []
        let groups = ["female", "male", "nonbinary", "18-24", "25-59", "60+", "unknown"]
        for round in 0..<6 {
            var batch: [NewEvent] = []
            for _ in 0..<Int.random(in: 20...80, using: &random) {
                let consultation = consultations.randomElement(using: &random)!
                switch Int.random(in: 0..<11, using: &random) {
                case 0..<6:
                    let organisation = ["org-a", "org-b"].randomElement(using: &random)!
                    let key = "k\(submitted.count)"
                    let body = JSONValue.object([
                        ("stage", .string(["design", "implementation"].randomElement(using: &random)!)),
                        ("language", .string(["ar", "en", "fr"].randomElement(using: &random)!)), ("text", .string("t")),
                        ("represents", .object([
                            ("gender", .array(Array(groups.shuffled(using: &random).prefix(Int.random(in: 0...2, using: &random))).map(JSONValue.string))),
                            ("age", .array(Array(groups.shuffled(using: &random).prefix(Int.random(in: 0...2, using: &random))).map(JSONValue.string))),
                        ])),
                    ])
                    batch.append(NewEvent(Commands.received(SubmissionKey(organisation: organisation, consultation: consultation, key: key), body: body), metadata: .object([])))
                    submitted.append((organisation, "\(consultation)/\(key)"))
                case 6 where !submitted.isEmpty:
                    let (organisation, path) = submitted.randomElement(using: &random)!
                    let parts = path.split(separator: "/").map(String.init)
                    var withdrawal = NewEvent(Commands.withdraw(SubmissionKey(organisation: organisation, consultation: parts[0], key: parts[1]), reason: nil), metadata: .object([]))
                    withdrawal.expectedVersion = .any
                    batch.append(withdrawal)
                case 7 where !submitted.isEmpty:
                    let (organisation, path) = submitted.randomElement(using: &random)!
                    let parts = path.split(separator: "/").map(String.init)
                    batch.append(NewEvent(.feedbackGiven(FeedbackGiven(SubmissionKey(organisation: organisation, consultation: parts[0], key: parts[1]), text: "f"))))
                case 8 where !submitted.isEmpty:
                    let cites = submitted.shuffled(using: &random).prefix(3).filter { $0.1.hasPrefix("\(consultation)/") }
                        .map { ($0.0, String($0.1.split(separator: "/")[1])) }
                    batch.append(NewEvent(.outcomePublished(OutcomePublished(consultation: consultation, summary: "s", cites: cites.map { Citation(organisation: $0.0, key: $0.1) }))))
                case 9 where Bool.random(using: &random):
                    // Registrations and profile changes: a new organisation, or a changed one.
                    let id = ["org-a", "org-b", "org-n\(round)"].randomElement(using: &random)!
                    let profile = Organisation(
                        id: id, name: id, type: "ngo", leadership: [["refugees"], [], ["diaspora", "women"]].randomElement(using: &random)!,
                        level: ConvenerRules.levels.randomElement(using: &random)!, country: "JOR")
                    var event = id.hasPrefix("org-n") ? NewEvent(.organisationRegistered(profile)) : NewEvent(.organisationProfileChanged(profile))
                    event.expectedVersion = .any
                    batch.append(event)
                case 9:
                    batch.append(NewEvent(.consultationClosed(ConsultationClosed(id: consultation, closedAt: Date()))))
                default:
                    let id = "r\(round)-\(consultations.count)"
                    consultations.append(id)
                    batch.append(NewEvent(.consultationOpened(Consultation(
                        id: id, title: "t", convener: "v", opensAt: Date(), closesAt: Date().addingTimeInterval(86_400),
                        stages: ["design", "monitoring"], languages: ["ar"],
                        baseline: ["gender": ["female": 0.6, "male": 0.4], "age": ["18-24": 0.5, "25-59": 0.5]]))))
                }
            }
            // Random batch boundaries: several transactions of random sizes.
            var rest = batch[...]
            while !rest.isEmpty {
                let size = Int.random(in: 1...20, using: &random)
                _ = try fixture.store.append(batch: Array(rest.prefix(size)))
                rest = rest.dropFirst(size)
            }
            let head = try fixture.store.headPosition()
            try waitForProjection(fixture.conninfo, reaching: head)
            let projected = try projectedRows(fixture.store.connection)
            assertSame(projected, try foldRows(fixture.store, upTo: head))
            snapshots.append((head, projected))
            if round == 2 || round == 4 {
                // A restart resumes from the fold's snapshot, and goes on to the same numbers.
                try fixture.restartDaemon()
                XCTAssertTrue(fixture.daemon.waitForLog("projection resumed from its snapshot"), fixture.daemon.log)
            }
        }
        for (position, projected) in snapshots {
            assertSame(projected, try foldRows(fixture.store, upTo: position))
        }
        // The rebuild's way of reading (two connections, chunks in turn) folds to the same numbers;
        // with chunks of one or two events there are hundreds, and one lane often runs ahead.
        let head = try fixture.store.headPosition()
        let second = try Connection(fixture.conninfo)
        for chunk: Int64 in [7, 2, 1] {
            var twoLanes = LogFold()
            let read = try LogReader.fold(fixture.store.connection, and: second, into: &twoLanes, chunk: chunk)
            XCTAssertEqual(Int64(read), head)
            assertSame(rows(of: twoLanes), try foldRows(fixture.store, upTo: head))
        }
    }

    func testKilledMidLoadTheProjectionResumesCorrectly() throws {
        var fixture = try Fixture()
        let client = try fixture.client()
        let load = (0..<3_000).flatMap { Array("SUBMIT c1 kill-\($0) \(Fixture.body)\n".utf8) }
        let daemon = fixture.daemon
        let sender = Thread { try? client.send(bytes: load) }
        sender.start()
        // Kill it once the projector has written something while submissions still stream in.
        try waitForProjection(fixture.conninfo, reaching: 200)
        daemon.send(SIGKILL)
        XCTAssertEqual(daemon.waitForExit(), 128 + SIGKILL)
        try fixture.restartDaemon()
        let head = try fixture.store.headPosition()
        try waitForProjection(fixture.conninfo, reaching: head)
        assertSame(try projectedRows(fixture.store.connection), try foldRows(fixture.store, upTo: head))
    }

    /// A consultd from before the fold's snapshot moves the checkpoint alone (it still runs on the new
    /// schema): the snapshot no longer matches, so the next start folds from 0 rather than resume.
    func testACheckpointMovedWithoutItsSnapshotIsNotResumedFrom() throws {
        var fixture = try Fixture()
        let client = try fixture.client()
        for index in 0..<5 { XCTAssertTrue(try client.request("SUBMIT c1 old-\(index) \(Fixture.body)").hasPrefix("OK SUBMIT")) }
        try waitForProjection(fixture.conninfo, reaching: try fixture.store.headPosition())
        fixture.daemon.send(SIGKILL)
        fixture.daemon.waitForExit()
        // What an older projector's write does: more events folded, the checkpoint moved, nothing else.
        _ = try fixture.store.append(NewEvent(Commands.received(
            SubmissionKey(organisation: "org-b", consultation: "c1", key: "by-an-older-daemon"), body: try JSONParser().parse(Fixture.body)),
            metadata: .object([])))
        try fixture.store.connection.execute(
            "UPDATE consult.projection_checkpoint SET position = (SELECT max(position) FROM consult.events) WHERE name = 'metrics'")
        try fixture.restartDaemon()
        let head = try fixture.store.headPosition()
        XCTAssertTrue(fixture.daemon.waitForLog("projecting:"), fixture.daemon.log)
        try fixture.store.append(NewEvent(.consultationClosed(ConsultationClosed(id: "c1", closedAt: Date()))))
        try waitForProjection(fixture.conninfo, reaching: head + 1)
        XCTAssertFalse(fixture.daemon.log.contains("projection resumed from its snapshot"), fixture.daemon.log)
        assertSame(try projectedRows(fixture.store.connection), try foldRows(fixture.store, upTo: head + 1))
    }

    func testAStandbyDaemonTakesOverProjecting() throws {
        let fixture = try Fixture()
        try waitForProjection(fixture.conninfo, reaching: try fixture.store.headPosition())
        let standby = try Daemon(conninfo: fixture.conninfo)
        XCTAssertTrue(fixture.daemon.log.contains("projecting:"), fixture.daemon.log)
        XCTAssertTrue(standby.waitForLog("projection standby"), "only one daemon projects: \(standby.log)")
        XCTAssertFalse(standby.log.contains("projecting:"))
        fixture.daemon.send(SIGKILL)
        fixture.daemon.waitForExit()

        let client = try LineClient(port: standby.port)
        XCTAssertEqual(try client.request("AUTH org-a \(fixture.tokens["org-a"]!)"), "OK AUTH org-a")
        for index in 0..<20 {
            XCTAssertTrue(try client.request("SUBMIT c1 failover-\(index) \(Fixture.body)").hasPrefix("OK SUBMIT"))
        }
        let head = try fixture.store.headPosition()
        try waitForProjection(fixture.conninfo, reaching: head)
        XCTAssertTrue(standby.log.contains("projecting:"), standby.log)
        assertSame(try projectedRows(fixture.store.connection), try foldRows(fixture.store, upTo: head))
    }

    func testRebuildFromZeroGivesTheSameTablesAndTheAnalystSeesOnlyViews() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        for index in 0..<50 { _ = try client.request("SUBMIT c1 rb-\(index) \(Fixture.body)") }
        let head = try fixture.store.headPosition()
        try waitForProjection(fixture.conninfo, reaching: head)
        let before = try projectedRows(fixture.store.connection)
        let rebuilt = try TestDatabase.run(try TestDatabase.executable("consultctl"), ["projections", "rebuild", "--database", fixture.conninfo])
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        XCTAssertTrue(rebuilt.stdout.hasPrefix("rebuilt from position 0 to \(head)"), rebuilt.stdout)
        assertSame(try projectedRows(fixture.store.connection), before)

        let analyst = try Connection(fixture.conninfo)
        try analyst.execute("SET ROLE consult_analyst")
        let submissions = try analyst.execute(
            "SELECT value FROM analytics.metrics WHERE consultation = 'c1' AND metric = 'submissions'").first?.get("value", as: Double.self)
        XCTAssertEqual(submissions, 50)
        XCTAssertNotNil(try analyst.execute("SELECT status FROM analytics.audit WHERE criterion = 'verdict'").first)
        XCTAssertNotNil(try analyst.execute("SELECT * FROM analytics.participation").first)
        XCTAssertEqual(
            try analyst.execute("SELECT submissions FROM analytics.organisations WHERE organisation = 'org-a'").first?.get("submissions", as: Int.self), 50)
        for sql in ["SELECT * FROM consult.events", "SELECT * FROM consult.metric_values", "SELECT * FROM consult.projection_checkpoint"] {
            XCTAssertThrowsError(try analyst.execute(sql), sql) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.insufficientPrivilege)
            }
        }
    }
}

/// The analytics views as a BI tool meets them, from a login that has only consult_analyst.
extension ProjectionTests {
    func testTheViewsAnswerTheREADMEsQuestionsAndDescribeEveryColumn() throws {
        let fixture = try Fixture()
        let loaded = try TestDatabase.run(
            try TestDatabase.executable("consultctl"), ["demo", "--port", String(fixture.daemon.port), "--database", fixture.conninfo])
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        try waitForProjection(fixture.conninfo, reaching: try fixture.store.headPosition())
        let analyst = try Connection(fixture.conninfo)
        try analyst.execute("SET ROLE consult_analyst")

        // Every statement of the README's sql block answers, with rows.
        let readme = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let block = try XCTUnwrap(readme.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first)
        let statements = block.split(separator: "\n").map(String.init).filter { $0.hasPrefix("SELECT") }
        XCTAssertEqual(statements.count, 5)
        for sql in statements {
            XCTAssertGreaterThan(try analyst.execute(String(sql.dropLast())).rows.count, 0, sql)
        }
        let edu = try XCTUnwrap(try analyst.execute(
            "SELECT title, convener, stages, effective_close, labels FROM analytics.consultations WHERE consultation = 'edu-jordan'").first)
        XCTAssertEqual(try edu.get("title", as: String.self), "Access to secondary education")
        XCTAssertEqual(try edu.get("stages", as: String.self), "{design,implementation,monitoring}")
        let organisation = try XCTUnwrap(try analyst.execute("SELECT name, type, level FROM analytics.organisations LIMIT 1").first)
        XCTAssertFalse(try organisation.get("name", as: String.self).isEmpty)
        let days: Int = try analyst.execute("SELECT sum(received) AS n FROM analytics.submissions_daily").first!.get("n")
        XCTAssertEqual(days, 3_700)

        // Described by \d+: a comment on every view and every column; no column named group.
        let undescribed = try fixture.store.connection.execute(
            """
            SELECT c.relname || '.' || coalesce(a.attname, '') AS name
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE n.nspname = 'analytics' AND c.relkind = 'v'
               AND (obj_description(c.oid, 'pg_class') IS NULL OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL))
            """
        ).rows.map { try $0.get("name", as: String.self) }
        XCTAssertEqual(undescribed, [])
        XCTAssertEqual(try fixture.store.connection.execute(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'analytics' AND column_name = 'group'").first!.get("n", as: Int.self), 0)
    }
}
