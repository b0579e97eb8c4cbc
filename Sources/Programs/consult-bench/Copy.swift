import Domain
import Foundation

extension Bench {
    /// 1. The physical bound: COPY into a table with the log's columns and indexes (no triggers).
    /// Returns events per second.
    func copyBound(_ run: BenchRun) throws -> Double {
        try run.connection.execute("CREATE TABLE bench_copy (LIKE consult.events INCLUDING ALL)")
        let now = Timestamps.format(Date())
        let body = Self.body
        let rows: [[String?]] = (1...copyEvents).map { index in
            let data = #"{"organisation":"o1","consultation":"c1","key":"k\#(index)","submission":\#(body)}"#
            return [String(index), UUID().uuidString, "submission-o1/c1/k\(index)", "1", "SubmissionReceived", data, "{}", now,
                    "submission-o1/c1/k\(index)"]
        }
        let started = Date()
        try run.connection.copy("COPY bench_copy FROM STDIN", rows: rows)
        let copyRate = Double(copyEvents) / Date().timeIntervalSince(started)
        run.report("copy_events_per_s", copyRate, "events/s")
        return copyRate
    }
}
