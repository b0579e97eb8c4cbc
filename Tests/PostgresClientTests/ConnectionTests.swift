import Foundation
import JSON
import PostgresClient
import TestSupport
import XCTest

final class ConnectionTests: XCTestCase {
    var conninfo = ""

    override func setUpWithError() throws {
        conninfo = try TestDatabase.fresh(migrated: false)
    }

    func testParametersAndResultsRoundTrip() throws {
        let connection = try Connection(conninfo)
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let text = "quote ' double \" backslash \\ semicolon; -- comment, émoji 🌍, عربى"
        let row = try XCTUnwrap(
            connection.execute(
                "SELECT $1::text AS t, $2::bigint AS i, $3::float8 AS d, $4::bool AS b, $5::uuid AS u, "
                    + "$6::timestamptz AS ts, $7::text AS n, $8::jsonb AS j",
                [text, Int64.max, 0.1, true, id, when, nil, JSONText(#"{"b": 1, "a": [true, null]}"#)]
            ).first)
        XCTAssertEqual(try row.get("t", as: String.self), text)
        XCTAssertEqual(try row.get("i", as: Int64.self), Int64.max)
        XCTAssertEqual(try row.get("d", as: Double.self), 0.1)
        XCTAssertEqual(try row.get("b", as: Bool.self), true)
        XCTAssertEqual(try row.get("u", as: UUID.self), id)
        XCTAssertEqual(try row.get("ts", as: Date.self).timeIntervalSince1970, when.timeIntervalSince1970, accuracy: 1e-6)
        XCTAssertNil(try row.optional("n", as: String.self))
        XCTAssertEqual(try row.get("j", as: String.self), #"{"a": [true, null], "b": 1}"#)
        XCTAssertThrowsError(try row.get("n", as: String.self)) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .decoding)
            XCTAssertEqual((error as? PostgresError)?.field, "n")
        }
        XCTAssertThrowsError(try row.get("t", as: Int.self)) { error in
            XCTAssertEqual((error as? PostgresError)?.field, "t")
        }
    }

    func testServerErrorsCarrySQLStateAndConstraint() throws {
        let connection = try Connection(conninfo)
        XCTAssertThrowsError(try connection.execute("SELECT 1 / $1::int", [0])) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.kind, .server)
            XCTAssertEqual(error?.sqlState, "22012")
            XCTAssertEqual(error?.message, "division by zero")
        }
        try connection.execute("CREATE TABLE t (k text CONSTRAINT t_key PRIMARY KEY)")
        try connection.execute("INSERT INTO t VALUES ($1)", ["x"])
        XCTAssertThrowsError(try connection.execute("INSERT INTO t VALUES ($1)", ["x"])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.uniqueViolation)
            XCTAssertEqual((error as? PostgresError)?.field, "t_key")
        }
        // The connection stays usable after an error.
        XCTAssertEqual(try connection.execute("SELECT count(*) AS c FROM t").first?.get("c", as: Int.self), 1)
    }

    func testNulByteIsRefusedNotTruncated() throws {
        let connection = try Connection(conninfo)
        XCTAssertThrowsError(try connection.execute("SELECT $1::text", ["a\u{0}b"])) { error in
            XCTAssertEqual((error as? PostgresError)?.field, "$1")
        }
    }

    func testTransactionCommitsOrRollsBack() throws {
        let connection = try Connection(conninfo)
        try connection.execute("CREATE TABLE t (v int)")
        try connection.transaction { try $0.execute("INSERT INTO t VALUES (1)") }
        struct Boom: Error {}
        XCTAssertThrowsError(
            try connection.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            })
        XCTAssertEqual(try connection.execute("SELECT array_agg(v)::text AS v FROM t").first?.get("v", as: String.self), "{1}")
    }

    func testCopyStreamsRowsWithAnyText() throws {
        let connection = try Connection(conninfo)
        try connection.execute("CREATE TABLE t (id int, body text)")
        let awkward = "tab\there, newline\nthere, back\\slash, \\N, quote \" and é"
        let rows: [[String?]] = (1...5_000).map { [String($0), $0 == 2 ? nil : awkward] }
        XCTAssertEqual(try connection.copy("COPY t (id, body) FROM STDIN", rows: rows), 5_000)
        let row = try XCTUnwrap(connection.execute("SELECT body FROM t WHERE id = 1").first)
        XCTAssertEqual(try row.get("body", as: String.self), awkward)
        XCTAssertNil(try connection.execute("SELECT body FROM t WHERE id = 2").first?.optional("body", as: String.self))
        XCTAssertThrowsError(try connection.copy("COPY t (id, body) FROM STDIN", rows: [["not a number", "x"]])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22P02")
        }
        XCTAssertEqual(try connection.execute("SELECT count(*) AS c FROM t").first?.get("c", as: Int.self), 5_000)
    }

    func testListenNotify() throws {
        let listener = try Connection(conninfo)
        let sender = try Connection(conninfo)
        try listener.listen("news")
        XCTAssertEqual(try listener.waitForNotifications(timeout: 0.05), [])
        try sender.execute("SELECT pg_notify($1, $2)", ["news", "hello"])
        let received = try listener.waitForNotifications(timeout: 10)
        XCTAssertEqual(received.map(\.payload), ["hello"])
        XCTAssertEqual(received.first?.processID, sender.backendPID)
        XCTAssertThrowsError(try listener.listen("bad; DROP TABLE x"))
    }

    func testReconnectsAfterBackendIsTerminated() throws {
        let connection = try Connection(conninfo)
        let killer = try Connection(conninfo)
        let before = connection.backendPID
        try killer.execute("SELECT pg_terminate_backend($1)", [before])
        // Wait until the server has really closed it (a signal, not a guess): its pid is gone.
        for _ in 0..<500 {
            let alive = try killer.execute("SELECT count(*) AS c FROM pg_stat_activity WHERE pid = $1", [before])
            if try alive.first?.get("c", as: Int.self) == 0 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(try connection.execute("SELECT 1 AS one").first?.get("one", as: Int.self), 1)
        XCTAssertNotEqual(connection.backendPID, before)
    }

    /// A stopped server (SIGSTOP on the session's backend) answers nothing, so no server-side timeout
    /// can fire: the client's own bound ends the call, closes the session, and the next call opens a
    /// fresh one.
    func testCallTimeoutBoundsACallToAStoppedServer() throws {
        var options = SessionOptions()
        options.callTimeout = 1
        let connection = try Connection(conninfo, options: options)
        let backend = connection.backendPID
        XCTAssertEqual(kill(backend, SIGSTOP), 0, "the test may signal the server's processes")
        defer { kill(backend, SIGCONT) }
        let start = Date()
        XCTAssertThrowsError(try connection.execute("SELECT 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .timedOut)
            XCTAssertEqual((error as? PostgresError)?.isConnectionProblem, true)
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 3, "bounded by the call timeout, not by the server")
        kill(backend, SIGCONT)
        XCTAssertEqual(try connection.execute("SELECT 2 AS n").first?.get("n", as: Int.self), 2)
        XCTAssertNotEqual(connection.backendPID, backend, "a fresh session")
    }

    /// The server's own bounds are set on every session of the daemon's kind.
    func testBoundedSessionsCarryServerTimeouts() throws {
        let connection = try Connection(conninfo, options: .bounded(1))
        let row = try XCTUnwrap(connection.execute(
            "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, "
                + "current_setting('idle_in_transaction_session_timeout') AS i").first)
        XCTAssertEqual(try row.get("s", as: String.self), "800ms")
        XCTAssertEqual(try row.get("l", as: String.self), "500ms")
        XCTAssertEqual(try row.get("i", as: String.self), "2s")
        XCTAssertThrowsError(try connection.execute("SELECT pg_sleep(3)")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.queryCanceled)
            XCTAssertEqual((error as? PostgresError)?.isTimeout, true)
        }
    }

    /// A session that holds a lock is never replaced behind its owner's back.
    func testSessionWithoutReconnectStaysLost() throws {
        var options = SessionOptions()
        options.reconnects = false
        let pinned = try Connection(conninfo, options: options)
        let admin = try Connection(conninfo)
        try pinned.execute("SELECT pg_advisory_lock(42)")
        try admin.execute("SELECT pg_terminate_backend($1)", [pinned.backendPID])
        for _ in 0..<2 {
            XCTAssertThrowsError(try pinned.execute("SELECT 1")) { error in
                XCTAssertEqual((error as? PostgresError)?.kind, .connectionLost)
            }
        }
        // The lock went with the session: another may take it now.
        XCTAssertEqual(try admin.execute("SELECT pg_try_advisory_lock(42) AS ok").first?.get("ok", as: Bool.self), true)
    }

    func testSurvivesServerRestart() throws {
        let connection = try Connection(conninfo)
        let listener = try Connection(conninfo)
        try listener.listen("after_restart")
        let before = connection.backendPID
        try TestDatabase.restartServer()
        // The next call notices the closed connection before sending, reconnects and succeeds.
        XCTAssertEqual(try connection.execute("SELECT 2 AS two").first?.get("two", as: Int.self), 2)
        XCTAssertNotEqual(connection.backendPID, before)
        // A listener listens again after reconnecting.
        XCTAssertEqual(try listener.waitForNotifications(timeout: 0.01), [])
        try connection.execute("SELECT pg_notify('after_restart', 'yes')")
        XCTAssertEqual(try listener.waitForNotifications(timeout: 10).map(\.payload), ["yes"])
    }

    func testConnectionFailureIsTyped() throws {
        XCTAssertThrowsError(try Connection("host=127.0.0.1 port=1 connect_timeout=2")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed)
            XCTAssertTrue((error as? PostgresError)?.isConnectionProblem ?? false)
        }
    }

    /// Streamed rows are the rows `execute` returns, one at a time; a failure part way through is the
    /// server's error and leaves the connection usable; a callback that throws drops the session only.
    func testStreamingRows() throws {
        let connection = try Connection(conninfo)
        let sql = "SELECT i, 'row ' || i AS label, CASE WHEN i % 3 = 0 THEN NULL ELSE now() END AS at FROM generate_series(1, $1::int) AS i"
        let expected = try connection.execute(sql, [50_000]).rows
        var seen: [(Int64, String, Bool)] = []
        let count = try connection.stream(sql, [50_000]) { row in
            seen.append((try row.int64(0)!, try row.get(1), try row.date(2) == nil))
        }
        XCTAssertEqual(count, 50_000)
        XCTAssertEqual(seen.map(\.0), try expected.map { try $0.get("i", as: Int64.self) })
        XCTAssertEqual(seen.map(\.1), try expected.map { try $0.get("label", as: String.self) })
        XCTAssertEqual(seen.map(\.2), try expected.map { try $0.optional("at", as: Date.self) == nil })

        var before = 0
        XCTAssertThrowsError(try connection.stream("SELECT 10 / (1000 - i) FROM generate_series(1, 2000) AS i") { _ in before += 1 }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "22012")
        }
        XCTAssertLessThan(before, 1000)
        XCTAssertEqual(try connection.execute("SELECT 1 AS one").first?.get("one", as: Int.self), 1)

        struct Stop: Error {}
        var taken = 0
        XCTAssertThrowsError(try connection.stream("SELECT i FROM generate_series(1, 100000) AS i") { _ in
            taken += 1
            if taken == 10 { throw Stop() }
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try connection.execute("SELECT 2 AS two").first?.get("two", as: Int.self), 2)
        XCTAssertThrowsError(try connection.stream("SELECT 'x'::text AS t") { row in _ = try row.int64(0) })
    }

    /// A time read from a binary COPY is the very `Date` its text form decodes to (the projector
    /// compares times read both ways), for times of every microsecond pattern, before 1970 too.
    func testBinaryTimesEqualTheirTextForm() throws {
        let connection = try Connection(conninfo)
        let sql = """
            SELECT t, t::text AS text FROM (
                SELECT timestamptz '1960-02-29 12:00:00+00' + (i * interval '1 day 13 hours 7 minutes') + (i * 7919 % 1000000) * interval '1 microsecond' AS t
                  FROM generate_series(0, 19999) AS i
                UNION ALL SELECT timestamptz '2000-01-01 00:00:00+00'
                UNION ALL SELECT timestamptz '1999-12-31 23:59:59.999999+00'
                UNION ALL SELECT timestamptz '2026-11-23 20:42:11.000001+00') AS times ORDER BY t
            """
        var binary: [Date] = []
        _ = try connection.copyOut("COPY (\(sql)) TO STDOUT (FORMAT binary)") { binary.append(try $0.date(0)!) }
        var text: [Date] = []
        _ = try connection.stream(sql) { text.append(try $0.date(1)!) }
        XCTAssertEqual(binary.count, 20_003)
        XCTAssertEqual(binary, text)
    }

    /// A binary COPY hands over each row's fields in PostgreSQL's binary form, NULL as nil; a failure
    /// part way through is the server's error; a callback that throws drops the session only.
    func testBinaryCopyOut() throws {
        let connection = try Connection(conninfo)
        var seen: [(Int64, String?, Int64)] = []
        let count = try connection.copyOut(
            """
            COPY (SELECT i::bigint, CASE WHEN i % 3 = 0 THEN NULL ELSE 'row ' || i || ' ✓' END,
                         timestamptz '2000-01-01 00:00:01+00' + i * interval '1 microsecond'
                    FROM generate_series(1, 20000) AS i) TO STDOUT (FORMAT binary)
            """
        ) { row in
            seen.append((try row.int64(0), row.fields[1].map { String(decoding: $0, as: UTF8.self) }, try row.int64(2)))
        }
        XCTAssertEqual(count, 20_000)
        XCTAssertEqual(seen.map(\.0), Array(1...20_000))
        XCTAssertEqual(seen[0].1, "row 1 ✓")
        XCTAssertNil(seen[2].1)
        XCTAssertEqual(seen[9].2, 1_000_010, "timestamptz: microseconds since 2000-01-01")
        XCTAssertThrowsError(try connection.copyOut("COPY (SELECT 10 / (1000 - i) FROM generate_series(1, 2000) AS i) TO STDOUT (FORMAT binary)") { _ in }) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "22012")
        }
        XCTAssertThrowsError(try connection.copyOut("COPY (SELECT nope) TO STDOUT (FORMAT binary)") { _ in }) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42703")
        }
        struct Stop: Error {}
        XCTAssertThrowsError(try connection.copyOut("COPY (SELECT i FROM generate_series(1, 100000) AS i) TO STDOUT (FORMAT binary)") { _ in throw Stop() }) {
            XCTAssertTrue($0 is Stop)
        }
        XCTAssertEqual(try connection.execute("SELECT 2 AS two").first?.get("two", as: Int.self), 2)
    }

    /// Any text travels intact as an element of a `text[]` parameter, NULL included.
    func testTextArrayRoundTrip() throws {
        let connection = try Connection(conninfo)
        let elements: [String?] = [
            "plain", "", "NULL", nil, #"{"a": "b\\c"}"#, "comma, {brace}", "tab\tnew\nline", "quote \" and \\", "ünï ✓ 🚀", " spaced ",
        ]
        let rows = try connection.execute(
            "SELECT e, n FROM unnest($1::text[]) WITH ORDINALITY AS u(e, n) ORDER BY n", [TextArray(elements)]
        ).rows
        XCTAssertEqual(try rows.map { try $0.optional("e", as: String.self) }, elements)
    }
}
