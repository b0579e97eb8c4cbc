import Foundation
import PostgresClient
import TestSupport
import Version
import XCTest

/// What an operator runs and watches: `--version`, the HTTP endpoint (`/metrics`, `/health`,
/// `/ready`) and systemd's notifications, against a real daemon and database.
final class OperationsTests: XCTestCase {
    func testVersionOfBothBinariesNamesThePackageVersionAndTheCommit() throws {
        for program in ["consultd", "consultctl"] {
            let result = try TestDatabase.run(try TestDatabase.executable(program), ["--version"])
            XCTAssertEqual(result.status, 0, result.stderr)
            let line = result.stdout.trimmingCharacters(in: .newlines)
            XCTAssertEqual(line, "\(program) \(ConsultdVersion.number) (commit \(ConsultdVersion.commit))")
            XCTAssertNotNil(line.range(of: #"^\w+ \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,40}|unknown)\)$"#, options: .regularExpression), line)
        }
    }

    /// Parses the exposition into sample name with labels → value, failing on any line that is not
    /// a comment or a sample (the format's grammar, as far as consultd uses it).
    func samples(_ text: String) throws -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...].replacingOccurrences(of: "+Inf", with: "inf")) ?? (line.hasSuffix(" NaN") ? .nan : nil) else {
                throw TestEnvironmentError(description: "not a sample: \(line)")
            }
            result[String(line[..<space])] = value
        }
        return result
    }

    func scrape(_ fixture: Fixture) throws -> (text: String, samples: [String: Double]) {
        let answer = try HTTPProbe.get(port: fixture.daemon.httpPort!, path: "/metrics")
        XCTAssertEqual(answer.status, 200)
        return (answer.body, try samples(answer.body))
    }

    func testMetricsMoveWithSubmissionsAndPassPromtool() throws {
        let fixture = try Fixture(daemonArguments: ["--http-port", "0"])
        XCTAssertNotNil(fixture.daemon.httpPort, fixture.daemon.log)
        let before = try scrape(fixture).samples
        XCTAssertEqual(before[#"consultd_writes_total{verb="submit",outcome="stored"}"#], 0)
        XCTAssertEqual(before[#"consultd_build_info{version="\#(ConsultdVersion.number)",commit="\#(ConsultdVersion.commit)"}"#], 1)

        let client = try fixture.client()
        let idle = try fixture.connect()  // stays unauthenticated
        for index in 0..<20 {
            XCTAssertTrue(try client.request("SUBMIT c1 m-\(index) \(Fixture.body)").hasPrefix("OK SUBMIT"))
        }
        XCTAssertTrue(try client.request("SUBMIT c1 m-0 \(Fixture.body)").hasPrefix("OK SUBMIT"), "a retry counts as stored")
        XCTAssertTrue(try client.request(#"SUBMIT c1 m-0 {"stage": "design", "language": "en", "text": "other", "represents": {}}"#).hasPrefix("ERR CONFLICT"))
        XCTAssertTrue(try client.request(#"SUBMIT c1 m-bad {"stage": "nowhere", "language": "en", "text": "x", "represents": {}}"#).hasPrefix("ERR INVALID"))
        XCTAssertTrue(try client.request("SUBMIT c-old m-late \(Fixture.body)").hasPrefix("ERR CLOSED"))
        XCTAssertTrue(try client.request("WITHDRAW c1 m-1").hasPrefix("OK WITHDRAW"))
        XCTAssertTrue(try client.request("WITHDRAW c1 m-none").hasPrefix("ERR NOT_FOUND"))

        let after = try scrape(fixture)
        let s = after.samples
        XCTAssertEqual(s[#"consultd_writes_total{verb="submit",outcome="stored"}"#], 21)
        XCTAssertEqual(s[#"consultd_writes_total{verb="submit",outcome="conflict"}"#], 1)
        XCTAssertEqual(s[#"consultd_writes_total{verb="submit",outcome="refused"}"#], 2)
        XCTAssertEqual(s[#"consultd_writes_total{verb="withdraw",outcome="stored"}"#], 1)
        XCTAssertEqual(s[#"consultd_writes_total{verb="withdraw",outcome="not_found"}"#], 1)
        // Each request waited for its reply: at least one batch per write that reached the committer.
        XCTAssertGreaterThanOrEqual(s["consultd_batch_size_count"] ?? 0, 25)
        XCTAssertEqual(s["consultd_batch_size_count"], s["consultd_commit_duration_seconds_count"])
        XCTAssertGreaterThan(s["consultd_commit_duration_seconds_sum"] ?? 0, 0)
        XCTAssertEqual(s[#"consultd_commit_duration_seconds_bucket{le="+Inf"}"#], s["consultd_commit_duration_seconds_count"])
        XCTAssertEqual(s[#"consultd_connections{state="authenticated"}"#], 1)
        XCTAssertEqual(s[#"consultd_connections{state="unauthenticated"}"#], 1)
        XCTAssertEqual(s["consultd_queue_bytes"], 0)
        XCTAssertEqual(s["consultd_queue_limit_bytes"], Double(64 << 20))
        XCTAssertEqual(s["consultd_database_up"], 1)
        XCTAssertEqual(s["consultd_ready"], 1)
        _ = idle

        // The projector catches up (it writes at most four times a second): the lag comes to 0.
        var lag: [String: Double] = [:]
        XCTAssertTrue(Self.eventually { lag = (try? scrape(fixture).samples) ?? [:]; return lag["consultd_projection_lag_events"] == 0 }, "\(lag)")
        XCTAssertEqual(lag["consultd_projection_lag_seconds"], 0)

        try Self.promtoolCheck(after.text + "\n")  // HTTPProbe gives the body's lines without the last newline
    }

    /// `promtool check metrics` (Debian's `prometheus` package; scripts/test installs it) reads the
    /// exposition from stdin and exits non-zero on any format or lint problem.
    static func promtoolCheck(_ text: String) throws {
        let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw TestEnvironmentError(description: "promtool is not installed: run the tests with scripts/test (it installs `prometheus`)")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-metrics-\(UUID().uuidString).txt").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try TestDatabase.run("/bin/sh", ["-c", "\"$0\" check metrics < \"$1\"", path, file])
        XCTAssertEqual(result.status, 0, "promtool: \(result.stdout) \(result.stderr)")
    }

    func testHealthAndReadyFollowTheDatabase() throws {
        let fixture = try Fixture(daemonArguments: ["--http-port", "0"])
        let port = fixture.daemon.httpPort!
        XCTAssertEqual(try HTTPProbe.get(port: port, path: "/health").status, 200)
        XCTAssertEqual(try HTTPProbe.get(port: port, path: "/ready").status, 200)
        XCTAssertEqual(try HTTPProbe.get(port: port, path: "/nothing").status, 404)

        // Shut the daemon out of its database: refuse new sessions and end the open ones.
        let database = String(fixture.conninfo.dropFirst("dbname=".count))
        let admin = try Connection("dbname=postgres")
        func endSessions() throws {
            try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database])
        }
        // ALTER DATABASE takes no parameters; the name is the fixture's, made of hex digits.
        try admin.executeScript("ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        try endSessions()
        XCTAssertTrue(Self.eventually { (try? HTTPProbe.get(port: port, path: "/ready").status) == 503 }, "ready turns 503")
        XCTAssertEqual(try HTTPProbe.get(port: port, path: "/health").status, 200, "the process is still alive")
        XCTAssertEqual(try scrape(fixture).samples["consultd_database_up"], 0)

        try admin.executeScript("ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
        XCTAssertTrue(Self.eventually { (try? HTTPProbe.get(port: port, path: "/ready").status) == 200 }, "ready again")
        XCTAssertTrue(try fixture.client().request("SUBMIT c1 after-outage \(Fixture.body)").hasPrefix("OK SUBMIT"))
    }

    /// Polls `condition` (each poll is an HTTP request answered at once) for up to `timeout`.
    static func eventually(timeout: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            // Nothing signals a state change of the probe from outside the process: poll at 10 Hz.
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition()
    }

    func testSlowClientsOnTheHTTPPortAreBoundedAndHurtNobody() throws {
        let fixture = try Fixture(daemonArguments: ["--http-port", "0"])
        let port = fixture.daemon.httpPort!
        // A slowloris: many connections, each a few bytes of a request head and then nothing.
        var slow: [LineClient] = []
        for _ in 0..<100 {
            let client = try LineClient(port: port, readGreeting: false, timeout: 15)
            try client.send(bytes: Array("GET /metr".utf8))
            slow.append(client)
        }
        // A scraper still gets in (the oldest held sockets make room), and the protocol port serves.
        XCTAssertEqual(try HTTPProbe.get(port: port, path: "/health").status, 200)
        XCTAssertTrue(try fixture.client().request("SUBMIT c1 during-slowloris \(Fixture.body)").hasPrefix("OK SUBMIT"))
        // The server closed most of them to make room, and closes the rest at its deadline (5 s):
        // every slow socket ends without an answer.
        for client in slow {
            XCTAssertEqual(try client.readAll(), [], "a request head never finished gets no answer")
        }
        // A head larger than the bound gets 431, not unbounded buffering.
        let big = try LineClient(port: port, readGreeting: false, timeout: 15)
        try big.send(bytes: Array(("GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 20_000)).utf8))
        XCTAssertEqual(try big.readLine(), "HTTP/1.1 431 Request Header Fields Too Large\r")
    }

    func testSystemdNotificationsArriveReadyWatchdogAndStopping() throws {
        let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-notify-\(UUID().uuidString.prefix(8))").path
        let receiver = try DatagramReceiver(path: socketPath)
        defer { receiver.close() }
        let fixture = try Fixture(
            daemonArguments: [], environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "200000"])
        var messages: [String] = []
        // READY=1 comes once the daemon listens; then WATCHDOG=1 every 0.1 s.
        while messages.filter({ $0 == "WATCHDOG=1" }).count < 3, let message = receiver.receive(timeout: 10) { messages.append(message) }
        XCTAssertEqual(messages.first, "READY=1", "\(messages)")
        XCTAssertGreaterThanOrEqual(messages.filter { $0 == "WATCHDOG=1" }.count, 3, "\(messages)")
        // Ready means listening: the port answers.
        XCTAssertEqual(try fixture.client().request("PING"), "OK PONG")
        fixture.daemon.send(SIGTERM)
        var stopping = false
        while !stopping, let message = receiver.receive(timeout: 10) { stopping = message == "STOPPING=1" }
        XCTAssertTrue(stopping)
        XCTAssertEqual(fixture.daemon.waitForExit(), 0)
    }
}

/// A unix datagram socket bound at a path: what systemd listens on for `sd_notify`.
final class DatagramReceiver {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw TestEnvironmentError(description: "cannot bind \(path): \(String(cString: strerror(errno)))") }
    }

    /// The next datagram, or nil after `timeout` seconds without one.
    func receive(timeout: Double) -> String? {
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    func close() {
        Glibc.close(fd)
        unlink(path)
    }
}
