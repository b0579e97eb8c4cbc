import EventLog
import EventRecords
import Foundation
import JSON
import PostgresClient
import TestSupport
import XCTest

/// The log's guarantees are the database's, not only the application's: these tests go around the
/// Swift API and talk SQL directly, as the table owner and as each role.
final class PrivilegeTests: XCTestCase {
    var conninfo = ""
    var owner: Connection!

    override func setUpWithError() throws {
        conninfo = try TestDatabase.fresh()
        owner = try Connection(conninfo)
        try EventStore(connection: owner).append(NewEvent(stream: "s-1", type: "A", data: JSONText(#"{"v": 1}"#)))
    }

    override func tearDown() {
        owner = nil  // XCTest keeps test case objects alive: close the connection now
    }

    private func assertRefused(
        _ sql: String, on connection: Connection, states: Set<String>, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try connection.execute(sql), sql, file: file, line: line) { error in
            let state = (error as? PostgresError)?.sqlState ?? "none"
            XCTAssertTrue(states.contains(state), "\(sql): SQLSTATE \(state), \(error)", file: file, line: line)
        }
    }

    private func assertLogUnchanged(file: StaticString = #filePath, line: UInt = #line) throws {
        try owner.execute("RESET ROLE")
        let row = try XCTUnwrap(owner.execute("SELECT count(*) AS c, max(data::text) AS d FROM consult.events").first)
        XCTAssertEqual(try row.get("c", as: Int.self), 1, file: file, line: line)
        XCTAssertEqual(try row.get("d", as: String.self), #"{"v": 1}"#, file: file, line: line)
    }

    /// Only the log's writers can take its write lock: an analyst (or any role) holding the old advisory
    /// key stalls nothing, and cannot lock the table or call the function that does.
    func testOnlyWritersCanTakeTheLogsWriteLock() throws {
        let analyst = try Connection(conninfo)
        try analyst.execute("SET ROLE consult_analyst")
        try analyst.execute("SELECT pg_advisory_lock(7593122107351085390)")  // the key 001 used
        assertRefused("SELECT consult.lock_log()", on: analyst, states: [SQLState.insufficientPrivilege])
        try analyst.execute("BEGIN")
        assertRefused("LOCK TABLE consult.log_lock IN ACCESS SHARE MODE", on: analyst, states: [SQLState.insufficientPrivilege])
        try analyst.execute("ROLLBACK")
        let app = try Connection(conninfo, options: .bounded(2))
        try app.execute("SET ROLE consult_app")
        let start = Date()
        try EventStore(connection: app).append(NewEvent(stream: "s-2", type: "A", data: JSONText(#"{"v": 2}"#)))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "the append did not wait for the analyst's lock")
        // While a writer holds the table lock, another writer's wait is bounded by lock_timeout.
        try owner.execute("BEGIN")
        try owner.execute("SELECT consult.lock_log()")
        XCTAssertThrowsError(try EventStore(connection: app).append(NewEvent(stream: "s-3", type: "A", data: JSONText("{}")))) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, SQLState.lockNotAvailable, "\($0)")
        }
        try owner.execute("ROLLBACK")
    }

    /// Signed checkpoints are append-only like the log, for every role, the owner included.
    func testCheckpointsAreAppendOnly() throws {
        try owner.execute(
            """
            INSERT INTO consult.checkpoints (tree_size, root, log_time, key_id, signature)
            VALUES (1, decode(repeat('ab', 32), 'hex'), now(), 'k', decode(repeat('cd', 64), 'hex'))
            """)
        for sql in ["UPDATE consult.checkpoints SET key_id = 'x'", "DELETE FROM consult.checkpoints", "TRUNCATE consult.checkpoints"] {
            assertRefused(sql, on: owner, states: [SQLState.immutableLog])
        }
        XCTAssertEqual(try owner.execute("SELECT count(*) AS c FROM consult.checkpoints").first?.get("c", as: Int.self), 1)
    }

    func testOwnerCannotUpdateDeleteOrTruncate() throws {
        for sql in [
            "UPDATE consult.events SET data = '{\"v\": 2}'",
            "DELETE FROM consult.events",
            "DELETE FROM consult.events WHERE false",
            "TRUNCATE consult.events",
        ] {
            assertRefused(sql, on: owner, states: [SQLState.immutableLog])
        }
        try assertLogUnchanged()
    }

    func testAppRoleCanAppendAndReadButNotChange() throws {
        try owner.execute("SET ROLE consult_app")
        // Appending through the function and by plain INSERT both work; the database assigns positions,
        // and refuses ones that would leave a gap, and a log time that is not the time of writing.
        try EventStore(connection: owner).append(NewEvent(stream: "s-2", type: "B", data: JSONText("{}")))
        assertRefused(
            "INSERT INTO consult.events (position, event_id, stream, version, type, data, recorded_at) "
                + "VALUES (999, gen_random_uuid(), 's-3', 1, 'C', '{}', now())", on: owner, states: [SQLState.logOrder])
        assertRefused(
            "INSERT INTO consult.events (position, event_id, stream, version, type, data, recorded_at) "
                + "VALUES (3, gen_random_uuid(), 's-3', 1, 'C', '{}', now() - interval '1 day')", on: owner, states: [SQLState.logOrder])
        try owner.execute("INSERT INTO consult.events (event_id, stream, version, type, data) VALUES (gen_random_uuid(), 's-3', 1, 'C', '{}')")
        XCTAssertEqual(
            try owner.execute("SELECT array_agg(position ORDER BY position)::text AS p FROM consult.events").first?.get("p", as: String.self),
            "{1,2,3}")
        for sql in [
            "UPDATE consult.events SET data = '{}'",
            "DELETE FROM consult.events",
            "TRUNCATE consult.events",
            "CREATE TABLE consult.mine (x int)",
            "DROP TRIGGER events_no_update ON consult.events",
            "ALTER TABLE consult.events DISABLE TRIGGER events_no_update",
            "DROP TABLE consult.events",
        ] {
            assertRefused(sql, on: owner, states: [SQLState.insufficientPrivilege, SQLState.immutableLog, "42501"])
        }
        try owner.execute("RESET ROLE")
        XCTAssertEqual(try EventStore(connection: owner).headPosition(), 3)
    }

    func testAnalystCannotReadTheLogOrWriteAnything() throws {
        try owner.execute("SET ROLE consult_analyst")
        for sql in [
            "SELECT * FROM consult.events",
            "SELECT * FROM consult.schema_migrations",
            "SELECT consult.append(gen_random_uuid(), 's-9', 'X', '{}', '{}', NULL, NULL)",
            "SELECT consult.append_batch(ARRAY[gen_random_uuid()], '{s-9}', '{X}', '{\"{}\"}', '{\"{}\"}', '{NULL}', '{NULL}')",
            "INSERT INTO consult.events (event_id, stream, version, type, data) VALUES (gen_random_uuid(), 's-9', 1, 'X', '{}')",
            "CREATE TABLE analytics.mine (x int)",
            "CREATE TABLE public.mine (x int)",
            "CREATE SCHEMA mine",
        ] {
            assertRefused(sql, on: owner, states: [SQLState.insufficientPrivilege])
        }
        try assertLogUnchanged()
    }
}
