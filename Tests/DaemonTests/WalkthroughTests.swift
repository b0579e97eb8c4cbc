import Foundation
import TestSupport
import XCTest

/// The README's "Five minutes with the demo", run as a newcomer runs it: scripts/run-local in one
/// process group (the first terminal), the second terminal's block pasted into bash as it stands.
final class WalkthroughTests: XCTestCase {
    let root = TestDatabase.repositoryRoot

    /// The shell blocks of the README's section `title`, in order.
    func blocks(in title: String) throws -> [String] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "## \(title)\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        return section.components(separatedBy: "```sh\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    func testTheDemoWalkthroughRunsVerbatim() throws {
        let blocks = try blocks(in: "Five minutes with the demo")
        XCTAssertEqual(blocks.count, 2)
        XCTAssertEqual(blocks[0], "scripts/run-local\n")
        try? FileManager.default.removeItem(at: root.appendingPathComponent("reports"))
        defer { try? FileManager.default.removeItem(at: root.appendingPathComponent("reports")) }

        // The first terminal: its own process group, as a terminal gives it, so Ctrl-C reaches all of it.
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        let spawned = Result { try PipedChild.spawn(root.appendingPathComponent("scripts/run-local").path, [], ownProcessGroup: true) }
        FileManager.default.changeCurrentDirectoryPath(cwd)
        let (pid, pipe) = try spawned.get()
        var stopped = false
        defer {
            if !stopped {
                kill(-pid, SIGINT)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }

        // Wait for consultd's "ready" on the first terminal (it reads what it writes, so nothing blocks).
        // "] ready" is the log line's message, not "already" in an error on the way.
        let output = PipeReader(fd: pipe) { $0.contains("] ready") }
        XCTAssertTrue(output.waitUntilReadyOrEnded(timeout: 180))
        XCTAssertTrue(output.text.contains("] ready"), output.text)
        XCTAssertTrue(output.text.contains("source run-local.env"), "it tells the newcomer what to do: \(output.text)")

        // The second terminal: the block exactly as the README has it.
        let second = try TestDatabase.run("/bin/bash", ["-e", "-o", "pipefail", "-c", "cd \(root.path)\n" + blocks[1]])
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        XCTAssertTrue(second.stdout.contains("demo loaded: 60 organisations, 6 consultations, 3700 submissions"), second.stdout)
        XCTAssertTrue(second.stdout.contains("my-001"), "the submission was stored: \(second.stdout)")
        XCTAssertTrue(second.stdout.contains("\"shelter-uganda\"") && second.stdout.contains("meaningful"), second.stdout)
        XCTAssertTrue(second.stdout.contains("Access to secondary education"), "the analyst sees the consultations: \(second.stdout)")
        for file in ["reports/index.html", "reports/edu-jordan.html", "reports/ar/edu-jordan.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(file).path), file)
        }
        // The reports in the reader's language, with a name the walkthrough gave, and the HXL file.
        func report(_ file: String) throws -> String { try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) }
        XCTAssertTrue(try report("reports/ar/edu-jordan.html").contains("<bdi>العراق</bdi>"), "CLDR's name for IRQ, isolated")
        XCTAssertTrue(try report("reports/fr/water-lebanon.html").contains("Eau et assainissement : campements informels"))
        XCTAssertTrue(second.stdout.contains("named water-lebanon in fr at position "), second.stdout)
        let hxl = try report("reports/hxl/edu-jordan.hxl.csv").split(separator: "\r\n")
        XCTAssertTrue(hxl.count > 2 && hxl[1].hasPrefix("#meta+kind,#activity+code,"), "the hashtag row under the header")

        // Ctrl-C in the first terminal: everything stops, and what run-local wrote is gone.
        kill(-pid, SIGINT)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        stopped = true
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("run-local.env").path))
    }
}
