import Foundation

/// A blocking HTTP/1.1 GET against a loopback port, for tests of consultd's operator endpoint.
public enum HTTPProbe {
    /// One answer: the status code and the body.
    public struct Answer: Sendable {
        public let status: Int
        public let body: String
    }

    /// Sends `GET path` and reads the answer to the server's close (the endpoint closes after one).
    public static func get(port: UInt16, path: String, timeout: Double = 10) throws -> Answer {
        let client = try LineClient(port: port, readGreeting: false, timeout: timeout)
        try client.send(bytes: Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let lines = try client.readAll().map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.dropFirst(9).prefix(3))
        else {
            throw TestEnvironmentError(description: "not an HTTP answer: \(lines.prefix(3))")
        }
        let body = lines.drop { !$0.isEmpty }.dropFirst().joined(separator: "\n")
        return Answer(status: status, body: body)
    }
}
