import Domain
import Foundation
import LineProtocol
import TestSupport
import XCTest

/// Crashes, database restarts and shutdowns in the middle of a load: nothing acknowledged is lost,
/// nothing is stored twice, and the daemon never says OK for work it did not commit.
final class FailureTests: XCTestCase {
    /// Sends `keys` pipelined on one connection from one thread while another collects the replies
    /// until the server closes; returns key → reply for the keys that got one.
    func pipeline(_ client: LineClient, keys: [String], afterReplies: Int = 0, then action: @escaping @Sendable () -> Void = {})
        throws -> [String: String]
    {
        let replies = Locked([String]())
        let finished = DispatchSemaphore(value: 0)
        Thread {
            var count = 0
            while let line = try? client.readLine() {
                replies.withLock { $0.append(line) }
                count += 1
                if count == afterReplies { action() }
            }
            finished.signal()
        }.start()
        let request = keys.flatMap { Array("SUBMIT c1 \($0) \(Fixture.body)\n".utf8) }
        try? client.send(bytes: request)  // the server may die while we send
        client.finishSending()
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success)
        // Replies come in request order, so the n-th reply belongs to the n-th key.
        return Dictionary(uniqueKeysWithValues: zip(keys, replies.current))
    }

    func testKillNineDuringLoadLosesNothingAcknowledged() throws {
        var fixture = try Fixture()
        let keys = (0..<4_000).map { "crash-\($0)" }
        let daemon = fixture.daemon
        let before = try pipeline(try fixture.client(), keys: keys, afterReplies: 300) { daemon.send(SIGKILL) }
        XCTAssertEqual(daemon.waitForExit(), 128 + SIGKILL)
        let acknowledged = before.filter { $0.value.hasPrefix("OK SUBMIT") }
        XCTAssertGreaterThanOrEqual(acknowledged.count, 300)
        XCTAssertLessThan(acknowledged.count, keys.count, "the kill landed mid-load")

        try fixture.restartDaemon()
        let retried = keys.filter { acknowledged[$0] == nil }
        let after = try pipeline(try fixture.client(), keys: retried)
        XCTAssertEqual(after.count, retried.count)
        XCTAssertTrue(after.values.allSatisfy { $0.hasPrefix("OK SUBMIT") }, "\(after.values.filter { !$0.hasPrefix("OK") }.prefix(3))")

        let stored = try fixture.storedSubmissions()
        XCTAssertEqual(stored.count, keys.count, "every key stored exactly once")
        for (key, reply) in acknowledged {
            XCTAssertEqual(reply, "OK SUBMIT \(key) \(stored["org-a/\(key)"] ?? -1)", "an acknowledged submission kept its position")
        }
    }

    func testDatabaseRestartDuringLoadGivesBusyNeverFalseOK() throws {
        let fixture = try Fixture()
        let client = try fixture.client()
        struct Load {
            var replies: [(key: String, reply: String)] = []
            var restartedAt: Int?
            var stop = false
        }
        let load = Locked(Load())
        let reached200 = DispatchSemaphore(value: 0)
        let recovered = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        // One request at a time from a thread of its own, so each reply is known to belong to its
        // key, while the test restarts the database under it.
        Thread {
            var index = 0
            while !load.current.stop {
                let key = "restart-\(index)"
                index += 1
                guard let reply = try? client.request("SUBMIT c1 \(key) \(Fixture.body)") else { break }
                let (count, okAfterRestart) = load.withLock { state -> (Int, Int) in
                    state.replies.append((key, reply))
                    guard let restartedAt = state.restartedAt else { return (state.replies.count, 0) }
                    return (state.replies.count, state.replies[restartedAt...].filter { $0.reply.hasPrefix("OK") }.count)
                }
                if count == 200 { reached200.signal() }
                if okAfterRestart == 50 { recovered.signal() }
            }
            finished.signal()
        }.start()

        XCTAssertEqual(reached200.wait(timeout: .now() + 60), .success)
        load.withLock { $0.restartedAt = $0.replies.count }
        try TestDatabase.restartServer()
        XCTAssertEqual(recovered.wait(timeout: .now() + 60), .success, "the daemon recovered without being restarted")
        load.withLock { $0.stop = true }
        finished.wait()

        let replies = load.current.replies
        XCTAssertTrue(replies.allSatisfy { $0.reply.hasPrefix("OK SUBMIT") || $0.reply.hasPrefix("ERR BUSY") }, "\(replies.filter { !$0.reply.hasPrefix("OK") && !$0.reply.hasPrefix("ERR BUSY") }.prefix(3)) \(fixture.daemon.log.split(separator: "\n").filter { $0.contains("error") }.prefix(5))")
        let busy = replies.filter { $0.reply.hasPrefix("ERR BUSY") }
        XCTAssertGreaterThan(busy.count, 0, "requests sent while the database was down were answered BUSY")
        let stored = try fixture.storedSubmissions()
        for (key, reply) in replies where reply.hasPrefix("OK SUBMIT") {
            XCTAssertEqual(reply, "OK SUBMIT \(key) \(stored["org-a/\(key)"] ?? -1)")
        }
        // Whatever got BUSY can be sent again and is then stored once.
        for (key, _) in busy {
            XCTAssertTrue(try client.request("SUBMIT c1 \(key) \(Fixture.body)").hasPrefix("OK SUBMIT \(key)"))
        }
        XCTAssertEqual(try fixture.storedSubmissions().count, replies.count)
        XCTAssertEqual(kill(fixture.daemon.pid, 0), 0)
    }

    func testSigtermAnswersWhatItTookAndExitsCleanly() throws {
        let fixture = try Fixture()
        let keys = (0..<3_000).map { "term-\($0)" }
        let daemon = fixture.daemon
        let replies = try pipeline(try fixture.client(), keys: keys, afterReplies: 100) { daemon.send(SIGTERM) }
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.log)
        let stored = try fixture.storedSubmissions()
        for (key, reply) in replies {
            // A write refused while stopping says so: the database was never the problem.
            XCTAssertTrue(reply.hasPrefix("OK SUBMIT") || reply.hasPrefix("ERR BUSY server shutting down"), reply)
            if reply.hasPrefix("OK SUBMIT") {
                XCTAssertEqual(reply, "OK SUBMIT \(key) \(stored["org-a/\(key)"] ?? -1)")
            }
        }
        XCTAssertGreaterThanOrEqual(replies.count, 100)
        // In order: the server (connections answered, committer drained), then the projector, then exit.
        let log = daemon.log
        let steps = ["stopping", "server stopped; stopping the projector", "projector stopped", "] stopped"]
        let places = steps.map { log.range(of: $0)?.lowerBound }
        XCTAssertFalse(places.contains(nil), log)
        XCTAssertEqual(places.compactMap { $0 }, places.compactMap { $0 }.sorted(), log)
    }
}
