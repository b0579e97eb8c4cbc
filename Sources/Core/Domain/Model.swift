import Foundation
import JSON

/// An organisation's profile.
public struct Organisation: Equatable, Sendable {
    public var id: String
    public var name: String
    public var type: String
    public var leadership: [String]
    public var level: String
    public var country: String

    public init(id: String, name: String, type: String, leadership: [String], level: String, country: String) {
        self.id = id
        self.name = name
        self.type = type
        self.leadership = leadership
        self.level = level
        self.country = country
    }

    var json: JSONValue {
        .object([
            ("id", .string(id)), ("name", .string(name)), ("type", .string(type)),
            ("leadership", .array(leadership.map(JSONValue.string))), ("level", .string(level)),
            ("country", .string(country)),
        ])
    }

    init(event json: JSONValue, type: String) throws {
        typealias E = EventDecodingError
        let leadership: [String]
        switch json["leadership"] {
        case nil: leadership = []
        case let value?:
            guard let list = value.stringArray else { throw E(type: type, field: "leadership", message: "a list of strings") }
            leadership = list
        }
        self.init(
            id: try E.string(json, "id", type), name: try E.string(json, "name", type), type: try E.string(json, "type", type),
            leadership: leadership, level: try E.string(json, "level", type), country: try E.string(json, "country", type))
    }
}

/// A consultation as opened by its convener.
public struct Consultation: Equatable, Sendable {
    public var id: String
    public var title: String
    public var convener: String
    public var opensAt: Date
    public var closesAt: Date
    public var stages: [String]
    public var languages: [String]
    /// For each dimension, each group's share of the population (summing to 1).
    public var baseline: [String: [String: Double]]
    /// Set when closed early by command.
    public var closedAt: Date?
    /// Names for group codes, per dimension (e.g. nationality → SYR → "Syrian"), for reports; optional.
    public var labels: [String: [String: String]]
    /// Names by language given when it was opened (`ConsultationNamed` adds more later); optional.
    public var names: NameBook

    public init(
        id: String, title: String, convener: String, opensAt: Date, closesAt: Date, stages: [String],
        languages: [String], baseline: [String: [String: Double]], closedAt: Date? = nil, labels: [String: [String: String]] = [:],
        names: NameBook = NameBook()
    ) {
        self.labels = labels
        self.names = names
        self.id = id
        self.title = title
        self.convener = convener
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.stages = stages
        self.languages = languages
        self.baseline = baseline
        self.closedAt = closedAt
    }

    public var dimensions: [String] { baseline.keys.sorted() }

    public func isOpen(at now: Date) -> Bool {
        closedAt == nil && opensAt <= now && now < closesAt
    }

    var json: JSONValue {
        .object([
            ("id", .string(id)), ("title", .string(title)), ("convener", .string(convener)),
            ("opens_at", .string(Timestamps.format(opensAt))), ("closes_at", .string(Timestamps.format(closesAt))),
            ("stages", .array(stages.map(JSONValue.string))), ("languages", .array(languages.map(JSONValue.string))),
            ("baseline", .object(baseline.keys.sorted().map { dimension in
                (dimension, .object(baseline[dimension]!.keys.sorted().map { ($0, .number(String(baseline[dimension]![$0]!))) }))
            })),
        ] + (labels.isEmpty ? [] : [("labels", .object(labels.keys.sorted().map { dimension in
            (dimension, .object(labels[dimension]!.keys.sorted().map { ($0, .string(labels[dimension]![$0]!)) }))
        }))]) + (names.isEmpty ? [] : [("names", names.json)]))
    }

    /// The name of a group, where the consultation gives one; else its code.
    public func label(_ group: String, in dimension: String) -> String { labels[dimension]?[group] ?? group }

    /// The entry in the `CONSULTATIONS` reply: id, title, closes_at, stages, languages, dimensions.
    public var listing: JSONValue {
        .object([
            ("id", .string(id)), ("title", .string(title)), ("closes_at", .string(Timestamps.format(closesAt))),
            ("stages", .array(stages.map(JSONValue.string))), ("languages", .array(languages.map(JSONValue.string))),
            ("dimensions", .array(dimensions.map(JSONValue.string))),
        ])
    }

    init(event json: JSONValue, type: String) throws {
        typealias E = EventDecodingError
        func time(_ field: String) throws -> Date {
            guard let date = Timestamps.parse(try E.string(json, field, type)) else {
                throw E(type: type, field: field, message: "an ISO 8601 time")
            }
            return date
        }
        func strings(_ field: String) throws -> [String] {
            guard let value = json[field] else { return [] }
            guard let list = value.stringArray else { throw E(type: type, field: field, message: "a list of strings") }
            return list
        }
        guard case .object(let dimensions)? = json["baseline"] else { throw E(type: type, field: "baseline", message: "an object") }
        var baseline: [String: [String: Double]] = [:]
        for (dimension, groups) in dimensions {
            guard case .object(let shares) = groups else {
                throw E(type: type, field: "baseline.\(dimension)", message: "an object of shares")
            }
            var values: [String: Double] = [:]
            for (group, share) in shares {
                guard case .number(let text) = share, let value = Double(text) else {
                    throw E(type: type, field: "baseline.\(dimension).\(group)", message: "a number")
                }
                values[group] = value
            }
            baseline[dimension] = values
        }
        var labels: [String: [String: String]] = [:]
        if let given = json["labels"] {
            guard case .object(let dimensions) = given else { throw E(type: type, field: "labels", message: "an object") }
            for (dimension, names) in dimensions {
                guard case .object(let pairs) = names else { throw E(type: type, field: "labels.\(dimension)", message: "an object of names") }
                for (group, name) in pairs {
                    guard let text = name.stringValue else { throw E(type: type, field: "labels.\(dimension).\(group)", message: "a string") }
                    labels[dimension, default: [:]][group] = text
                }
            }
        }
        var names = NameBook()
        if let given = json["names"] {
            do {
                names = try NameBook(json: given, field: "names")
            } catch {
                throw E(type: type, field: error.field, message: error.message)
            }
        }
        self.init(
            id: try E.string(json, "id", type), title: try E.string(json, "title", type),
            convener: json["convener"]?.stringValue ?? "", opensAt: try time("opens_at"), closesAt: try time("closes_at"),
            stages: try strings("stages"), languages: try strings("languages"), baseline: baseline, labels: labels, names: names)
    }
}

/// ISO 8601 timestamps in UTC, as event data carries them.
public enum Timestamps {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    public static func parse(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }
}
