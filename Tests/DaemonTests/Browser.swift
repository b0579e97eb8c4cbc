import Foundation
import JSON
import TestSupport
import XCTest

/// Headless Chromium, as the tests that look at a page as a person would drive it.
enum Browser {
    /// Debian's chromium (scripts/test installs it when missing).
    static func chromium() throws -> String {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw TestEnvironmentError(description: "no chromium: run the tests with scripts/test, which installs Debian's chromium")
    }

    /// The flags every run takes: no window, no sandbox (root in CI), no GPU, no scrollbars in screenshots.
    static let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files"]

    /// A JSON attribute that a probe script wrote on an element of the page Chromium dumped with --dump-dom.
    static func attribute(_ name: String, in dom: String) throws -> JSONValue {
        guard let range = dom.range(of: "\(name)=\"([^\"]*)\"", options: .regularExpression) else {
            throw TestEnvironmentError(description: "the probe did not run: \(dom.prefix(300))")
        }
        let text = String(dom[range].dropFirst(name.count + 2).dropLast())
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&amp;", with: "&")
        return try JSONParser().parse(text)
    }
}
