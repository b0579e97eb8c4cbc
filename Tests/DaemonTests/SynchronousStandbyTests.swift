import Foundation
import PostgresClient
import TestSupport
import XCTest

/// What a failover must not take away: acknowledgements and signatures only for what a synchronous
/// standby confirmed. Played on the test cluster by naming a standby that never comes
/// (`synchronous_standby_names = 'nobody'`): every COMMIT then waits for it until its statement
/// timeout cancels the wait, and PostgreSQL keeps the transaction committed locally, which is
/// exactly the event a promoted standby would not have.
final class SynchronousStandbyTests: XCTestCase {
    /// Sets `synchronous_standby_names` for the whole test cluster and waits until new sessions see it.
    static func setStandbyNames(_ value: String?) throws {
        let admin = try Connection("dbname=postgres")
        if let value {
            try admin.execute("SELECT set_config('synchronous_commit', 'local', false)")  // this session must not wait itself
            try admin.executeScript("ALTER SYSTEM SET synchronous_standby_names = '\(value)'")
        } else {
            try admin.executeScript("ALTER SYSTEM RESET synchronous_standby_names")
        }
        try admin.execute("SELECT pg_reload_conf()")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let probe = try Connection("dbname=postgres")
            let now: String = try probe.execute("SELECT current_setting('synchronous_standby_names') AS s").first!.get("s")
            if now == (value ?? "") { return }
            Thread.sleep(forTimeInterval: 0.05)  // the postmaster re-reads its configuration asynchronously; no signal to wait on
        }
        throw TestEnvironmentError(description: "synchronous_standby_names did not become '\(value ?? "")'")
    }

    /// A SUBMIT whose COMMIT's wait for the synchronous standby is cut off (the call timeout closes
    /// the session, then the backend is terminated) is answered BUSY; its event is committed on the
    /// primary all the same, and a retry with the same key stays BUSY until the standby has it (here:
    /// until synchronous replication is switched off), then gets the stored position. Before: the
    /// retry got `OK SUBMIT` for an event that a failover would lose.
    func testCancelledWaitForTheStandbyIsNotAcknowledged() throws {
        let fixture = try Fixture(daemonArguments: ["--database-timeout", "1"])
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 before \(Fixture.body)").hasPrefix("OK SUBMIT before"))
        try Self.setStandbyNames("nobody")
        var restored = false
        defer { if !restored { try? Self.setStandbyNames(nil) } }
        let started = Date()
        let reply = try client.request("SUBMIT c1 unconfirmed \(Fixture.body)")
        XCTAssertTrue(reply.hasPrefix("ERR BUSY"), reply)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "answered within the timeout")
        // The COMMIT is still waiting for the standby (its session was closed at the call timeout;
        // PostgreSQL does not notice that while it waits). Terminating it, as an operator or a
        // failover engine would, leaves the transaction committed locally: visible here, on no standby.
        let admin = try Connection("dbname=postgres")
        let database: String = try fixture.store.connection.execute("SELECT current_database() AS d").first!.get("d")
        var position: Int64?
        let visibleBy = Date().addingTimeInterval(10)
        while position == nil && Date() < visibleBy {
            try admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'SyncRep'", [database])
            position = try fixture.storedSubmissions()["org-a/unconfirmed"]
            if position == nil { Thread.sleep(forTimeInterval: 0.05) }  // the backend ends asynchronously; no signal to wait on
        }
        let stored = try XCTUnwrap(position, "the cancelled wait left the event committed on the primary")
        let retry = try client.request("SUBMIT c1 unconfirmed \(Fixture.body)")
        XCTAssertTrue(retry.hasPrefix("ERR BUSY"), "a retry is not acknowledged before the standby confirms: \(retry)")
        XCTAssertTrue(fixture.daemon.waitForLog("not confirmed by the synchronous standby"), fixture.daemon.log)
        try Self.setStandbyNames(nil)
        restored = true
        var again = ""
        let deadline = Date().addingTimeInterval(20)
        repeat {
            again = try client.request("SUBMIT c1 unconfirmed \(Fixture.body)")
            if again.hasPrefix("OK") { break }
            Thread.sleep(forTimeInterval: 0.2)  // a client's retry interval
        } while Date() < deadline
        XCTAssertEqual(again, "OK SUBMIT unconfirmed \(stored)")
        XCTAssertEqual(try fixture.storedSubmissions().count, 2)
    }

    /// `--require-synchronous-standby` on a database without one: one line saying why, exit 1. Without
    /// the flag the daemon starts and warns.
    func testRequireSynchronousStandbyRefusesToStartWithoutOne() throws {
        let conninfo = try TestDatabase.fresh()
        let result = try TestDatabase.run(
            try TestDatabase.executable("consultd"),
            ["--database", conninfo, "--port", "0", "--master-key-file", TestDatabase.masterKeyFile, "--require-synchronous-standby"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
        XCTAssertTrue(result.stderr.hasPrefix("consultd: --require-synchronous-standby: synchronous_standby_names is empty"), result.stderr)
        let fixture = try Fixture()
        XCTAssertTrue(fixture.daemon.waitForLog("no synchronous standby: synchronous_standby_names is empty"), fixture.daemon.log)
    }
}
