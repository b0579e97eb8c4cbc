import Foundation
import TestSupport
import XCTest

extension LineClient {
    /// Asks RECEIPT for the submission `key` in c1 until it is in a signed checkpoint (ERR BUSY
    /// until then) and keeps the receipt in `folder` as `<key>.receipt.json`, as an organisation
    /// would; returns the file's path.
    func receiptFile(for key: String, in folder: URL) throws -> String {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let reply = try request("RECEIPT c1 \(key)")
            if reply.hasPrefix("OK RECEIPT ") {
                let path = folder.appendingPathComponent("\(key).receipt.json").path
                try String(reply.dropFirst("OK RECEIPT ".count)).write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            XCTAssertTrue(reply.hasPrefix("ERR BUSY"), reply)
            Thread.sleep(forTimeInterval: 0.1)  // waits for the next checkpoint, as a client would
        }
        throw TestEnvironmentError(description: "no receipt for \(key) within 20 s")
    }
}
