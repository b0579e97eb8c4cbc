import DaemonConfiguration
import XCTest

/// Services start in the order given and stop in the reverse order.
final class LifecycleTests: XCTestCase {
    private struct Refused: Error, CustomStringConvertible {
        var description: String { "port 7600 in use" }
    }

    private final class Journal {
        var entries: [String] = []
    }

    private func lifecycle(_ names: [String], failing: String? = nil, journal: Journal) -> Lifecycle {
        let lifecycle = Lifecycle()
        for name in names {
            lifecycle.add(name, start: {
                if name == failing { throw Refused() }
                journal.entries.append("start \(name)")
            }, stop: { journal.entries.append("stop \(name)") })
        }
        return lifecycle
    }

    func testStopsInTheReverseOrder() throws {
        let journal = Journal()
        let services = lifecycle(["a", "b", "c"], journal: journal)
        XCTAssertEqual(services.names, ["a", "b", "c"])
        try services.start()
        services.stop()
        services.stop()
        XCTAssertEqual(journal.entries, ["start a", "start b", "start c", "stop c", "stop b", "stop a"], "each stopped once")
    }

    func testAFailedStartEndsThereAndStopsOnlyWhatStarted() {
        let journal = Journal()
        let services = lifecycle(["a", "b", "c"], failing: "b", journal: journal)
        XCTAssertThrowsError(try services.start()) { error in
            let failure = error as? LifecycleError
            XCTAssertEqual(failure?.step, "b")
            XCTAssertEqual(failure?.description, "port 7600 in use", "the step's own words")
        }
        services.stop()
        XCTAssertEqual(journal.entries, ["start a", "stop a"])
    }
}
