import Domain
import EventLog
import EventRecords
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// A hostile client or a misbehaving database must not make the daemon unavailable to others: its
/// memory, its connection slots, its database waits and its readers are all bounded.
final class AvailabilityTests: XCTestCase {
    /// The daemon's resident memory now and at its peak (VmRSS, VmHWM), in bytes.
    func memory(of pid: pid_t) throws -> (rss: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// A SUBMIT of about 61 KiB whose body is valid JSON with ~2,600 members (refused as INVALID).
    static func hugeSubmit(_ key: String) -> [UInt8] {
        let members = (0..<2_600).map { "\"f\($0)_padding__\": \($0)" }.joined(separator: ", ")
        return Array("SUBMIT c1 \(key) {\(members)}\n".utf8)
    }

    /// Clients pipelining big parseable bodies move the daemon's memory by a bounded amount, not by
    /// the number of requests in flight (before: 4,000 such requests took RSS from 254 MB to 2.4 GB).
    func testPipelinedHugeBodiesKeepMemoryBounded() throws {
        let fixture = try Fixture()
        let before = try memory(of: fixture.daemon.pid)
        let clients = try (0..<2).map { _ in try fixture.client() }
        let done = DispatchGroup()
        let replies = Locked([Int](repeating: 0, count: clients.count))
        for (index, client) in clients.enumerated() {
            done.enter()
            Thread {
                while let line = try? client.readLine() {
                    replies.withLock { $0[index] += 1 }
                    if !line.hasPrefix("ERR INVALID") { XCTFail(line) }
                }
                done.leave()
            }.start()
            Thread {
                let one = Self.hugeSubmit("k")
                XCTAssertGreaterThan(one.count, 60 * 1_024)
                for _ in 0..<800 { try? client.send(bytes: one) }
                client.finishSending()
            }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(replies.current, [800, 800])
        let after = try memory(of: fixture.daemon.pid)
        let growth = after.peak - before.rss
        print("memory: RSS \(before.rss >> 20) MiB before, peak \(after.peak >> 20) MiB during 1,600 pipelined 61 KiB bodies")
        XCTAssertLessThan(growth, 64 << 20, "peak RSS grew by \(growth >> 20) MiB for 98 MiB of pipelined bodies")
    }

    /// Unauthenticated sockets cannot hold the slots: beyond their share the oldest is closed, each
    /// has a deadline to authenticate that trickled bytes do not extend, and an organisation gets in.
    func testUnauthenticatedConnectionsCannotHoldTheSlots() throws {
        let fixture = try Fixture(daemonArguments: [
            "--max-connections", "40", "--max-unauthenticated", "10", "--auth-timeout", "2", "--idle-timeout", "60",
        ])
        let start = Date()
        let idle = try (0..<30).map { _ in try LineClient(port: fixture.daemon.port) }
        // An organisation still gets in (its own connection makes room too), and stays in past the
        // others' deadline.
        let member = try fixture.client()
        // The twenty-one oldest were told to make room and closed.
        var evicted = 0
        for client in idle.prefix(21) {
            let line = try client.readLine()
            if line?.hasPrefix("ERR BUSY too many connections waiting to authenticate") == true, try client.readLine() == nil {
                evicted += 1
            }
        }
        XCTAssertEqual(evicted, 21)
        // The nine left send a byte every 0.3 s; that does not keep them open past the deadline.
        let closedAt = Locked([Double]())
        let group = DispatchGroup()
        for client in idle.suffix(9) {
            group.enter()
            Thread {
                var sent = 0
                while sent < 30 {
                    guard (try? client.send(bytes: [UInt8(ascii: "P")])) != nil else { break }
                    sent += 1
                    var descriptor = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
                    if poll(&descriptor, 1, 300) > 0 { break }  // the server spoke: the deadline came
                }
                let line = try? client.readLine()
                XCTAssertEqual(line, "ERR TIMEOUT not authenticated within 2 s; closing")
                XCTAssertNil(try? client.readLine())
                closedAt.withLock { $0.append(Date().timeIntervalSince(start)) }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(closedAt.current.count, 9)
        XCTAssertLessThan(closedAt.current.max() ?? 99, 4, "closed at the 2 s deadline, not kept open by trickled bytes")
        XCTAssertEqual(try member.request("PING"), "OK PONG")
    }

    /// The processes of the test cluster (postmaster and children), to freeze and thaw it.
    func clusterProcesses() throws -> [pid_t] {
        guard let pgctl = ProcessInfo.processInfo.environment["CONSULT_TEST_PGCTL"] else {
            throw TestEnvironmentError(description: "CONSULT_TEST_PGCTL is not set: run the tests with `scripts/test`")
        }
        let data = URL(fileURLWithPath: pgctl).deletingLastPathComponent().appendingPathComponent("data/postmaster.pid")
        let text = try String(contentsOf: data, encoding: .utf8)
        guard let postmaster = text.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw TestEnvironmentError(description: "cannot read \(data.path)")
        }
        let children = try TestDatabase.run("/usr/bin/pgrep", ["-P", String(postmaster)]).stdout
            .split(separator: "\n").compactMap { pid_t($0) }
        return [postmaster] + children
    }

    /// With PostgreSQL frozen (SIGSTOP), SUBMIT and STATUS are answered BUSY within the database
    /// timeout instead of hanging; after it thaws, the same SUBMIT is stored.
    func testFrozenDatabaseGivesBusyWithinTheTimeout() throws {
        let fixture = try Fixture(daemonArguments: ["--database-timeout", "1"])
        let client = try fixture.client()
        XCTAssertTrue(try client.request("SUBMIT c1 before \(Fixture.body)").hasPrefix("OK SUBMIT before"))
        let processes = try clusterProcesses()
        for pid in processes { kill(pid, SIGSTOP) }
        var thawed = false
        defer { if !thawed { for pid in processes { kill(pid, SIGCONT) } } }
        for request in ["SUBMIT c1 frozen \(Fixture.body)", "STATUS c1 before"] {
            let start = Date()
            let reply = try client.request(request)
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertTrue(reply.hasPrefix("ERR BUSY"), reply)
            XCTAssertLessThan(elapsed, 3.5, "\(request.prefix(6)) answered in \(elapsed) s")
        }
        XCTAssertEqual(try client.request("PING"), "OK PONG", "the connection is still served")
        for pid in processes { kill(pid, SIGCONT) }
        thawed = true
        let deadline = Date().addingTimeInterval(30)
        var reply = ""
        repeat {
            reply = try client.request("SUBMIT c1 frozen \(Fixture.body)")
            if reply.hasPrefix("OK") { break }
            XCTAssertTrue(reply.hasPrefix("ERR BUSY"), reply)
            Thread.sleep(forTimeInterval: 0.2)  // a client's retry interval, as a real client would wait
        } while Date() < deadline
        XCTAssertTrue(reply.hasPrefix("OK SUBMIT frozen"), reply)
        XCTAssertEqual(try fixture.storedSubmissions().count, 2)
    }

    /// An analyst holding the advisory key the log lock used to be stalls no SUBMIT.
    func testAnalystLockStallsNoSubmission() throws {
        let fixture = try Fixture()
        let analyst = try Connection(fixture.conninfo)
        try analyst.execute("SET ROLE consult_analyst")
        try analyst.execute("SELECT pg_advisory_lock(7593122107351085390)")
        let client = try fixture.client()
        let start = Date()
        XCTAssertTrue(try client.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK SUBMIT k1"))
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    /// One organisation pipelining STATUS by the thousand does not delay another's AUTH (before:
    /// 2.5 s median, 4.5 s worst for 50,000 STATUS).
    func testStatusFloodDoesNotDelayOthersAuth() throws {
        let fixture = try Fixture()
        let flooder = try fixture.client(as: "org-a")
        XCTAssertTrue(try flooder.request("SUBMIT c1 k1 \(Fixture.body)").hasPrefix("OK"))
        let count = 20_000
        let finished = DispatchSemaphore(value: 0)
        let answered = Locked(0)
        Thread {
            while answered.current < count, (try? flooder.readLine()) != nil { answered.withLock { $0 += 1 } }
            finished.signal()
        }.start()
        Thread {
            try? flooder.send(bytes: Array(repeating: Array("STATUS c1 k1\n".utf8), count: count).flatMap { $0 })
        }.start()
        var latencies: [Double] = []
        while latencies.count < 40 && answered.current < count {
            let client = try LineClient(port: fixture.daemon.port)
            let start = Date()
            XCTAssertEqual(try client.request("AUTH org-b \(fixture.tokens["org-b"]!)"), "OK AUTH org-b")
            latencies.append(Date().timeIntervalSince(start))
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(answered.current, count)
        XCTAssertGreaterThanOrEqual(latencies.count, 10, "AUTH measured while the flood was being answered")
        let sorted = latencies.sorted()
        XCTAssertLessThan(sorted[sorted.count / 2], 0.05, "median AUTH \(sorted[sorted.count / 2]) s")
        XCTAssertLessThan(sorted.last!, 0.5, "slowest AUTH \(sorted.last!) s")
    }

    /// The projector's leader session is never replaced silently: when it is terminated the daemon
    /// says it lost the lead, then takes it again on a new session.
    func testProjectorNoticesALostLeaderLock() throws {
        let fixture = try Fixture()
        XCTAssertTrue(fixture.daemon.waitForLog("projecting: this consultd holds the projection lock"))
        let admin = try Connection(fixture.conninfo)
        // A bigint advisory key shows in pg_locks as its high and low 32 bits. Only this database's:
        // a daemon of an earlier test may not be gone yet. The terminated session itself may still
        // be listed for a moment after the daemon saw it end (it releases its locks as it exits).
        func holder(besides previous: Int32) throws -> Int32? {
            try admin.execute(
                """
                SELECT pid FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> $3
                """, [Int64(0x636F_6E73), Int64(0x7072_6F6A), previous]
            ).first?.get("pid", as: Int32.self)
        }
        let pid = try XCTUnwrap(try holder(besides: 0), "the leader's session holds the lock")
        try admin.execute("SELECT pg_terminate_backend($1)", [pid])
        XCTAssertTrue(fixture.daemon.waitForLog("projection leadership lost"), fixture.daemon.log)
        let deadline = Date().addingTimeInterval(20)
        var newHolder: Int32?
        while Date() < deadline {
            newHolder = try holder(besides: pid)
            if newHolder != nil { break }
            Thread.sleep(forTimeInterval: 0.1)  // polling the catalogue: no signal exists for another process's lock
        }
        XCTAssertNotNil(newHolder, "the daemon took the lead again on a new session")
    }

    /// A retry after the consultation closed still learns its original position (SPEC: Idempotency);
    /// different content is a conflict, a new key is CLOSED. The same for WITHDRAW.
    func testRetriesAfterCloseGetTheOriginalReply() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        let first = try client.request("SUBMIT c1 kept \(Fixture.body)")
        XCTAssertTrue(first.hasPrefix("OK SUBMIT kept "), first)
        XCTAssertTrue(try client.request("SUBMIT c1 gone \(Fixture.body)").hasPrefix("OK"))
        let withdrawn = try client.request(#"WITHDRAW c1 gone {"reason": "typo"}"#)
        XCTAssertTrue(withdrawn.hasPrefix("OK WITHDRAW gone "), withdrawn)
        try fixture.store.append(NewEvent(.consultationClosed(ConsultationClosed(id: "c1", closedAt: Date()))))
        let again = try fixture.client()
        XCTAssertEqual(try again.request("SUBMIT c1 kept \(Fixture.body)"), first)
        let reordered = #"{"text": "Schools need Arabic teachers.", "language": "ar", "stage": "design", "represents": {"age": ["18-24"], "gender": ["female"]}, "people_consulted": 120, "topics": ["education"]}"#
        XCTAssertEqual(try again.request("SUBMIT c1 kept \(reordered)"), first, "same value, other key order")
        XCTAssertTrue(try again.request(#"SUBMIT c1 kept {"stage": "design", "language": "ar", "text": "other"}"#).hasPrefix("ERR CONFLICT"))
        XCTAssertTrue(try again.request("SUBMIT c1 new \(Fixture.body)").hasPrefix("ERR CLOSED"))
        XCTAssertEqual(try again.request(#"WITHDRAW c1 gone {"reason": "typo"}"#), withdrawn)
    }
}
