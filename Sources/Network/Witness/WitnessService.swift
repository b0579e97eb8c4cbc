import Foundation
import Transparency

/// The witness: its cosigner, the logs it trusts, its state, and the routes of tlog-witness under a
/// prefix: `POST <prefix>/add-checkpoint` and `GET <prefix>/<origin hash>/checkpoint`.
public final class WitnessService: Sendable {
    public let cosigner: Cosigner
    public let logs: [String: [VerifierKey]]
    public let store: WitnessStore
    public let prefix: String
    private let clock: @Sendable () -> UInt64

    /// `logKeys`: each key's name is its log's origin (several keys may share one).
    public init(cosigner: Cosigner, logKeys: [VerifierKey], store: WitnessStore, prefix: String = "",
                clock: @escaping @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970)) }) {
        self.cosigner = cosigner
        self.logs = Dictionary(grouping: logKeys, by: \.name)
        self.store = store
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        self.clock = clock
    }

    /// Answers one request; `summary` is one line for the log (never a key).
    public func handle(method: String, path: String, body: [UInt8]) -> (response: WitnessResponse, summary: String) {
        guard path.hasPrefix(prefix + "/") else { return (WitnessResponse(status: 404, text: "not found\n"), "no such path") }
        let route = path.dropFirst(prefix.count + 1)
        if route == "add-checkpoint" {
            guard method == "POST" else {
                return (WitnessResponse(status: 405, text: "add-checkpoint takes POST\n"), "method \(LogText.escaped(method, maxBytes: 20)) on add-checkpoint")
            }
            let now = clock()
            do {
                let decision = try store.update { state -> (result: AddCheckpoint.Decision, origin: String?, record: LogRecord?) in
                    let decision = AddCheckpoint.decide(body: body, logs: logs, record: { state.logs[$0] }, cosigner: cosigner, now: now)
                    return (decision, decision.origin, decision.newRecord)
                }
                // The summary and the origin may quote the client's text (a key name it sent): each
                // escaped and kept short, so the log keeps one line per request.
                var summary = LogText.escaped(decision.summary)
                if let evidence = decision.evidence {
                    // The whole signed checkpoint (signed by the log, so not cut), newlines escaped.
                    summary += " evidence=\"\(LogText.escaped(evidence.serialized, maxBytes: .max))\""
                }
                return (decision.response, "origin=\(decision.origin.map { "\"\(LogText.escaped($0, maxBytes: 200))\"" } ?? "-") \(summary)")
            } catch {
                return (WitnessResponse(status: 500, text: "the witness could not store its state\n"), "state not stored: \(error)")
            }
        }
        guard method == "GET" || method == "HEAD" else {
            let isMonitoringPath = route.hasSuffix("/checkpoint") && route.utf8.count == 64 + "/checkpoint".utf8.count
            return isMonitoringPath
                ? (WitnessResponse(status: 405, text: "only GET here\n"), "method \(LogText.escaped(method, maxBytes: 20))")
                : (WitnessResponse(status: 404, text: "not found\n"), "no such path")
        }
        let response = AddCheckpoint.monitor(path: route, records: store.current.logs)
        return (response, response.status == 200 ? "served a cosigned checkpoint" : "no such checkpoint")
    }
}
