import Domain
import Foundation
import TestSupport
import XCTest

/// `consultctl submit` against a real daemon.
final class SubmitCommandTests: XCTestCase {
    func testFileOfSubmissionsReportsEachFailureAndIsSafeToRerun() throws {
        let fixture = try Fixture()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("submit-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let lines = [
            #"{"consultation": "c1", "key": "f1", "submission": \#(Fixture.body)}"#,
            #"{"consultation": "c1", "key": "f2", "submission": {"stage": "design", "language": "ar", "text": ""}}"#,
            #"{"consultation": "c1", "key": "f3", "submission": \#(Fixture.body)}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let consultctl = try TestDatabase.executable("consultctl")
        let arguments = ["submit", "--port", String(fixture.daemon.port), "--organisation", "org-a", "--file", file.path]
        let environment = ["CONSULT_TOKEN": fixture.tokens["org-a"]!]

        for _ in 0..<2 {
            let result = try TestDatabase.run(consultctl, arguments, environment: environment)
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stdout, "2 stored, 1 failed\n")
            XCTAssertTrue(result.stderr.hasPrefix("line 2 (key f2): ERR INVALID text:"), result.stderr)
        }
        XCTAssertEqual(Set(try fixture.storedSubmissions().keys), ["org-a/f1", "org-a/f3"])

        let one = try TestDatabase.run(
            consultctl,
            ["submit", "--port", String(fixture.daemon.port), "--organisation", "org-a", "--consultation", "c1",
             "--key", "single", "--body", Fixture.body],
            environment: environment)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdout.hasPrefix("OK SUBMIT single "), one.stdout)

        let wrongToken = try TestDatabase.run(consultctl, arguments, environment: ["CONSULT_TOKEN": "nope"])
        XCTAssertEqual(wrongToken.status, 1)
        XCTAssertEqual(wrongToken.stderr, "consultctl: authentication refused: ERR AUTH invalid credential\n")
    }
}
