import Foundation
import JSON
import TestSupport
import XCTest

/// `consultd` as an operator starts it: a real process against a real database.
final class StartupTests: XCTestCase {
    func testRefusesToStartOnAnUnmigratedDatabaseWithOneClearLine() throws {
        let conninfo = try TestDatabase.fresh(migrated: false)
        let result = try TestDatabase.run(try TestDatabase.executable("consultd"), ["--database", conninfo])
        XCTAssertEqual(result.status, 1)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("run `consultctl migrate`"), result.stderr)
    }

    func testGivesUpWithOneLineWhenTheDatabaseIsUnreachable() throws {
        let result = try TestDatabase.run(
            try TestDatabase.executable("consultd"),
            ["--database", "host=127.0.0.1 port=1 connect_timeout=1", "--connect-attempts", "2", "--log-level", "error"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("consultd: cannot reach the database after 2 attempts"), result.stderr)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)")
    }

    func testLogsReadyAndStopsCleanlyOnSIGTERM() throws {
        let conninfo = try TestDatabase.fresh()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestDatabase.executable("consultd"))
        process.arguments = ["--database", conninfo, "--port", "0", "--master-key-file", TestDatabase.masterKeyFile]
        let stderr = Pipe()
        process.standardError = stderr
        let ready = DispatchSemaphore(value: 0)
        let output = Locked("")
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            let sawReady = output.withLock { output in
                output += chunk
                return output.contains("ready")
            }
            if sawReady { ready.signal() }
        }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        XCTAssertEqual(ready.wait(timeout: .now() + 30), .success, output.current)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        stderr.fileHandleForReading.readabilityHandler = nil
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.current.contains("schema_version="))
    }
}

/// `--log-format json`: every line the daemon writes is one JSON object with its level and message.
final class JSONLogTests: XCTestCase {
    func testEveryLogLineIsOneJSONObject() throws {
        let fixture = try Fixture(daemonArguments: ["--log-format", "json"])
        XCTAssertEqual(try fixture.client().request("PING"), "OK PONG")
        fixture.daemon.send(SIGTERM)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
        let lines = fixture.daemon.log.split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 3)
        for line in lines {
            let value = try JSONParser().parse(String(line))
            XCTAssertNotNil(value["level"]?.stringValue, String(line))
            XCTAssertNotNil(value["message"]?.stringValue, String(line))
        }
        XCTAssertTrue(lines.contains { $0.contains(#""message":"authenticated""#) && $0.contains(#""organisation":"org-a""#) })
    }
}
