import Domain
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// deploy/haproxy.cfg as documented: three consultd behind HAProxy (TCP mode, checked by `/ready`)
/// on one PostgreSQL. Killing the daemon that projects, under load, loses no acknowledged write;
/// its clients reconnect through HAProxy to the others, and another daemon takes the projection over.
final class ClusterTests: XCTestCase {
    /// The documented configuration with this test's ports in place of 7600 and 76xx/768x.
    static func haproxyConfig(frontend: UInt16, daemons: [(port: UInt16, http: UInt16)]) throws -> String {
        let text = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("deploy/haproxy.cfg"), encoding: .utf8)
        var servers = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("bind 127.0.0.1:") { return "    bind 127.0.0.1:\(frontend)" }
            if trimmed.hasPrefix("server consultd"), servers < daemons.count {
                defer { servers += 1 }
                return "    server consultd\(servers + 1) 127.0.0.1:\(daemons[servers].port) check port \(daemons[servers].http)"
            }
            return String(line)
        }
        guard servers == 3 else { throw TestEnvironmentError(description: "deploy/haproxy.cfg no longer lists three servers") }
        return lines.joined(separator: "\n")
    }

    func testThreeDaemonsBehindHAProxySurviveTheKillOfTheProjectingOne() throws {
        guard let haproxyPath = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestEnvironmentError(description: "haproxy is not installed: run the tests with scripts/test (it installs it)")
        }
        let fixture = try Fixture(daemonArguments: ["--http-port", "0"])
        var daemons = [fixture.daemon]
        for _ in 0..<2 { daemons.append(try Daemon(conninfo: fixture.conninfo, arguments: ["--http-port", "0"])) }
        let frontend = try LoopbackPort.free()
        let config = try Self.haproxyConfig(frontend: frontend, daemons: daemons.map { ($0.port, $0.httpPort!) })
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("consultd-haproxy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let configPath = folder.appendingPathComponent("haproxy.cfg").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let haproxy = Process()
        haproxy.executableURL = URL(fileURLWithPath: haproxyPath)
        haproxy.arguments = ["-db", "-f", configPath]
        let haproxyLog = folder.appendingPathComponent("haproxy.log")
        FileManager.default.createFile(atPath: haproxyLog.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: haproxyLog)
        haproxy.standardOutput = logHandle
        haproxy.standardError = logHandle
        try haproxy.run()
        defer {
            kill(haproxy.processIdentifier, SIGTERM)
            haproxy.waitUntilExit()
        }
        // HAProxy is up once a connection through it gets consultd's greeting.
        XCTAssertTrue(OperationsTests.eventually(timeout: 20) { (try? LineClient(port: frontend, timeout: 2).request("PING")) == "OK PONG" })

        // Exactly one daemon projects.
        XCTAssertTrue(OperationsTests.eventually { daemons.filter { $0.log.contains("projecting: this consultd holds") }.count == 1 })
        let projecting = daemons.firstIndex { $0.log.contains("projecting: this consultd holds") }!
        XCTAssertEqual(daemons.filter { $0.log.contains("projecting: this consultd holds") }.count, 1)

        // Load through HAProxy: six clients, one key at a time each; a dropped connection or BUSY is
        // retried, same key, on a new connection (what docs/PROTOCOL.md tells clients to do).
        struct Load {
            var acknowledged: [String: String] = [:]
            var reconnects = 0
            var acknowledgedAfterReconnect = 0
        }
        let load = Locked(Load())
        let perClient = 150
        let reached = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        let tokens = fixture.tokens
        for client in 0..<6 {
            let organisation = client % 2 == 0 ? "org-a" : "org-b"
            finished.enter()
            Thread {
                defer { finished.leave() }
                var connection: LineClient?
                var reconnected = false
                var index = 0
                var attempts = 0
                while index < perClient && attempts < 200 {
                    let key = "ha-\(client)-\(index)"
                    do {
                        if connection == nil {
                            let fresh = try LineClient(port: frontend, timeout: 10)
                            guard try fresh.request("AUTH \(organisation) \(tokens[organisation]!)") == "OK AUTH \(organisation)" else {
                                throw ClientError("AUTH refused")
                            }
                            connection = fresh
                        }
                        let reply = try connection!.request("SUBMIT c1 \(key) \(Fixture.body)")
                        guard reply.hasPrefix("OK SUBMIT") else { throw ClientError(reply) }
                        let count = load.withLock { state -> Int in
                            state.acknowledged["\(organisation)/\(key)"] = reply
                            if reconnected { state.acknowledgedAfterReconnect += 1 }
                            return state.acknowledged.count
                        }
                        if count == 200 { reached.signal() }
                        index += 1
                    } catch {
                        attempts += 1
                        if connection != nil {
                            connection = nil
                            reconnected = true
                            load.withLock { $0.reconnects += 1 }
                        }
                    }
                }
            }.start()
        }
        XCTAssertEqual(reached.wait(timeout: .now() + 60), .success)
        let acknowledgedBeforeKill = load.current.acknowledged
        daemons[projecting].send(SIGKILL)
        XCTAssertEqual(daemons[projecting].waitForExit(), 128 + SIGKILL)
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "the load finished")

        let state = load.current
        XCTAssertEqual(state.acknowledged.count, 6 * perClient, "every client got every key acknowledged")
        XCTAssertGreaterThan(state.reconnects, 0, "clients of the killed daemon lost their connections")
        XCTAssertGreaterThan(state.acknowledgedAfterReconnect, 0, "and went on through the others")
        let stored = try fixture.storedSubmissions()  // fails on a key stored twice
        XCTAssertEqual(stored.count, 6 * perClient)
        for (key, reply) in state.acknowledged {
            XCTAssertEqual(reply, "OK SUBMIT \(key.split(separator: "/").last!) \(stored[key] ?? -1)", "\(key) kept its position")
        }
        XCTAssertGreaterThanOrEqual(acknowledgedBeforeKill.count, 200)

        // Another daemon takes the projection over and catches up with the log.
        let survivors = daemons.indices.filter { $0 != projecting }.map { daemons[$0] }
        XCTAssertTrue(OperationsTests.eventually { survivors.contains { $0.log.contains("projecting: this consultd holds") } }, "a survivor projects")
        XCTAssertEqual(survivors.filter { $0.log.contains("projecting: this consultd holds") }.count, 1, "exactly one")
        let head: Int64 = try fixture.store.connection.execute("SELECT max(position) AS p FROM consult.events").first!.get("p")
        XCTAssertTrue(OperationsTests.eventually {
            let checkpoint: Int64? = try? fixture.store.connection.execute(
                "SELECT position FROM consult.projection_checkpoint WHERE name = 'metrics'").first?.get("position")
            return checkpoint == head
        }, "the projection caught up to \(head)")
        let projected: Int64 = try fixture.store.connection.execute(
            "SELECT sum(submissions)::bigint AS n FROM consult.participation WHERE consultation = 'c1'").first!.get("n")
        XCTAssertEqual(projected, Int64(6 * perClient))

        // HAProxy saw the dead daemon fail its /ready check and took it out.
        let log = (try? String(contentsOf: haproxyLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(OperationsTests.eventually { ((try? String(contentsOf: haproxyLog, encoding: .utf8)) ?? "").contains("is DOWN") }, log)
    }
}
