import Foundation
import Observability
import XCTest

final class ExpositionTests: XCTestCase {
    func testCountersGaugesAndCumulativeHistogramsInTheTextFormat() {
        let e = Exposition()
        e.declare("x_requests_total", .counter, help: "Requests.\nTwo lines \\ here.", labels: ["code"])
        e.declare("x_temperature", .gauge, help: "Heat.")
        e.declare("x_latency_seconds", .histogram, help: "Latency.", buckets: [0.1, 1])
        e.initialise("x_requests_total", ["500"])
        e.add("x_requests_total", ["200"])
        e.add("x_requests_total", ["200"], 2)
        e.set("x_temperature", [], .nan)
        e.observe("x_latency_seconds", [], 0.05)
        e.observe("x_latency_seconds", [], 0.5)
        e.observe("x_latency_seconds", [], 7)
        XCTAssertEqual(
            e.render(),
            """
            # HELP x_requests_total Requests.\\nTwo lines \\\\ here.
            # TYPE x_requests_total counter
            x_requests_total{code="500"} 0
            x_requests_total{code="200"} 3
            # HELP x_temperature Heat.
            # TYPE x_temperature gauge
            x_temperature NaN
            # HELP x_latency_seconds Latency.
            # TYPE x_latency_seconds histogram
            x_latency_seconds_bucket{le="0.1"} 1
            x_latency_seconds_bucket{le="1"} 2
            x_latency_seconds_bucket{le="+Inf"} 3
            x_latency_seconds_sum 7.55
            x_latency_seconds_count 3

            """)
    }

    func testLabelValuesAreEscaped() {
        let e = Exposition()
        e.declare("x_info", .gauge, help: "Info.", labels: ["v"])
        e.set("x_info", ["a\"b\\c\nd"], 1)
        XCTAssertTrue(e.render().contains(#"x_info{v="a\"b\\c\nd"} 1"#), e.render())
    }

    func testDaemonMetricsExposeEverySeriesFromTheStart() {
        let metrics = DaemonMetrics(version: "1.2.3", commit: "abc1234")
        let text = String(decoding: metrics.render(DaemonMetrics.Snapshot()), as: UTF8.self)
        for series in [
            #"consultd_writes_total{verb="submit",outcome="busy"} 0"#, "consultd_batch_size_count 0", "consultd_commit_duration_seconds_count 0",
            #"consultd_connections{state="authenticated"} 0"#, "consultd_queue_bytes 0", "consultd_projection_lag_events NaN",
            "consultd_database_up 0", "consultd_ready 0", #"consultd_build_info{version="1.2.3",commit="abc1234"} 1"#,
        ] {
            XCTAssertTrue(text.contains(series + "\n"), "\(series) in\n\(text)")
        }
    }
}

final class SystemdNotifierTests: XCTestCase {
    func testNothingIsSentWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        XCTAssertNil(notifier.watchdogInterval)
        XCTAssertFalse(notifier.notify("READY=1"))
    }

    func testWatchdogIntervalIsHalfOfWatchdogUsecAndOnlyForThisProcess() {
        XCTAssertEqual(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000"]).watchdogInterval, 15)
        XCTAssertEqual(
            SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"]).watchdogInterval, 1)
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"]).watchdogInterval)
    }

    /// A socket in the abstract namespace (`@name`: a leading NUL, no file) receives the datagram.
    func testAbstractNamespaceSocketReceivesTheState() throws {
        let name = "consultd-test-\(UUID().uuidString.prefix(12))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        XCTAssertEqual(bound, 0, String(cString: strerror(errno)))
        XCTAssertTrue(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name]).notify("READY=1"))
        var buffer = [UInt8](repeating: 0, count: 64)
        var wait = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let count = recv(fd, &buffer, buffer.count, 0)
        XCTAssertEqual(count, 7)
        XCTAssertEqual(String(decoding: buffer[0..<max(0, count)], as: UTF8.self), "READY=1")
    }
}
