import Foundation

/// Prometheus's text exposition format (version 0.0.4), written by hand: a few metric families,
/// each a counter, gauge or histogram with fixed label sets, safe to update from any thread.
///
/// `@unchecked Sendable`: every sample lives in `samples`, read and written only under `lock`.
public final class Exposition: @unchecked Sendable {
    /// A metric family's type, as the `# TYPE` line says it.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// A series: family name plus label values in a fixed order.
    public struct Series: Hashable, Sendable {
        let family: String
        let labels: [String]
    }

    private struct Family {
        let name: String
        let help: String
        let kind: Kind
        let labelNames: [String]
        /// Histograms only: upper bounds of the buckets, ascending (+Inf is implicit).
        let buckets: [Double]
        var series: [[String]] = []
    }

    private struct HistogramSample {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    private let lock = NSLock()
    private var families: [Family] = []
    private var index: [String: Int] = [:]
    private var values: [Series: Double] = [:]
    private var histograms: [Series: HistogramSample] = [:]

    public init() {}

    /// Declares a family (its help text, type, and the names of its labels).
    public func declare(_ name: String, _ kind: Kind, help: String, labels: [String] = [], buckets: [Double] = []) {
        precondition(Self.isValidName(name) && labels.allSatisfy(Self.isValidName), "invalid metric or label name")
        precondition(kind == .histogram ? !buckets.isEmpty && buckets == buckets.sorted() : buckets.isEmpty)
        lock.withLock {
            index[name] = families.count
            families.append(Family(name: name, help: help, kind: kind, labelNames: labels, buckets: buckets))
        }
    }

    /// Adds `amount` to a counter (or a gauge).
    public func add(_ name: String, _ labels: [String] = [], _ amount: Double = 1) {
        lock.withLock {
            let series = touch(name, labels)
            values[series, default: 0] += amount
        }
    }

    /// Sets a gauge.
    public func set(_ name: String, _ labels: [String] = [], _ value: Double) {
        lock.withLock { values[touch(name, labels)] = value }
    }

    /// Records one observation in a histogram.
    public func observe(_ name: String, _ labels: [String] = [], _ value: Double) {
        lock.withLock {
            let series = touch(name, labels)
            let bounds = families[index[name]!].buckets
            var sample = histograms[series] ?? HistogramSample(counts: [UInt64](repeating: 0, count: bounds.count))
            // Buckets are cumulative when written; here each observation lands in its first bucket.
            if let bucket = bounds.firstIndex(where: { value <= $0 }) { sample.counts[bucket] += 1 }
            sample.sum += value
            sample.count += 1
            histograms[series] = sample
        }
    }

    /// Registers a series the first time it is used, so that it is written even while it is 0.
    private func touch(_ name: String, _ labels: [String]) -> Series {
        guard let position = index[name] else { preconditionFailure("metric \(name) was not declared") }
        precondition(labels.count == families[position].labelNames.count, "labels of \(name)")
        if !families[position].series.contains(labels) { families[position].series.append(labels) }
        return Series(family: name, labels: labels)
    }

    /// Makes the series exist (at 0) before anything happened, as Prometheus's advice has it.
    public func initialise(_ name: String, _ labels: [String] = []) {
        lock.withLock {
            let series = touch(name, labels)
            if families[index[name]!].kind == .histogram {
                if histograms[series] == nil {
                    histograms[series] = HistogramSample(counts: [UInt64](repeating: 0, count: families[index[name]!].buckets.count))
                }
            } else if values[series] == nil {
                values[series] = 0
            }
        }
    }

    /// The whole exposition, families in declaration order.
    public func render() -> String {
        lock.withLock {
            var text = ""
            for family in families where !family.series.isEmpty {
                text += "# HELP \(family.name) \(Self.escapeHelp(family.help))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
                for labels in family.series {
                    let series = Series(family: family.name, labels: labels)
                    let pairs = zip(family.labelNames, labels).map { ($0, $1) }
                    if family.kind == .histogram {
                        let sample = histograms[series] ?? HistogramSample(counts: [UInt64](repeating: 0, count: family.buckets.count))
                        var cumulative: UInt64 = 0
                        for (bound, count) in zip(family.buckets, sample.counts) {
                            cumulative += count
                            text += "\(family.name)_bucket\(Self.labels(pairs + [("le", Self.number(bound))])) \(cumulative)\n"
                        }
                        text += "\(family.name)_bucket\(Self.labels(pairs + [("le", "+Inf")])) \(sample.count)\n"
                        text += "\(family.name)_sum\(Self.labels(pairs)) \(Self.number(sample.sum))\n"
                        text += "\(family.name)_count\(Self.labels(pairs)) \(sample.count)\n"
                    } else {
                        text += "\(family.name)\(Self.labels(pairs)) \(Self.number(values[series] ?? 0))\n"
                    }
                }
            }
            return text
        }
    }

    static func labels(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Integers without a fraction, NaN and infinities as the format spells them, else Swift's
    /// shortest round-tripping form (which Go's ParseFloat reads).
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first == "_" || first == ":" || first.properties.isAlphabetic else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0 == ":" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}
