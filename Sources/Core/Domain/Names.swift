import Foundation
import JSON

/// What a consultation's title, convener, dimensions and groups are called in one language; any
/// part may be missing (a report then falls back, visibly, to another name or the code).
public struct Names: Equatable, Sendable {
    public var title: String?
    public var convener: String?
    /// Dimension code → name ("age" → "âge").
    public var dimensions: [String: String]
    /// Dimension code → group code → name ("age" → "0-17" → "enfants (0-17 ans)").
    public var groups: [String: [String: String]]

    public init(title: String? = nil, convener: String? = nil, dimensions: [String: String] = [:], groups: [String: [String: String]] = [:]) {
        self.title = title
        self.convener = convener
        self.dimensions = dimensions
        self.groups = groups
    }

    public var isEmpty: Bool { title == nil && convener == nil && dimensions.isEmpty && groups.values.allSatisfy(\.isEmpty) }

    /// These names with `later`'s laid over them: a name given later for the same thing replaces the earlier one.
    public func merging(_ later: Names) -> Names {
        var merged = self
        merged.title = later.title ?? title
        merged.convener = later.convener ?? convener
        merged.dimensions.merge(later.dimensions) { _, new in new }
        for (dimension, names) in later.groups { merged.groups[dimension, default: [:]].merge(names) { _, new in new } }
        return merged
    }

    var json: JSONValue {
        var members: [(String, JSONValue)] = []
        if let title { members.append(("title", .string(title))) }
        if let convener { members.append(("convener", .string(convener))) }
        if !dimensions.isEmpty { members.append(("dimensions", Self.object(dimensions))) }
        if !groups.isEmpty {
            members.append(("groups", .object(groups.keys.sorted().map { ($0, Self.object(groups[$0]!)) })))
        }
        return .object(members)
    }

    static func object(_ names: [String: String]) -> JSONValue { .object(names.keys.sorted().map { ($0, .string(names[$0]!)) }) }
}

/// A consultation's names by language (a BCP 47 tag, as given): those given when it was opened and
/// those added since by `ConsultationNamed`. Reports read them; admission never depends on them.
public struct NameBook: Equatable, Sendable {
    public private(set) var languages: [String: Names]

    public init(_ languages: [String: Names] = [:]) {
        self.languages = languages.filter { !$0.value.isEmpty }
    }

    public var isEmpty: Bool { languages.isEmpty }

    /// The names in `language`, matched case-insensitively ("AR" finds "ar"); empty when none were given.
    public subscript(language: String) -> Names {
        languages.first { $0.key.lowercased() == language.lowercased() }?.value ?? Names()
    }

    /// This book with `later` laid over it, language by language.
    public func merging(_ later: NameBook) -> NameBook {
        var merged = languages
        for (language, names) in later.languages {
            let key = merged.keys.first { $0.lowercased() == language.lowercased() } ?? language
            merged[key] = (merged[key] ?? Names()).merging(names)
        }
        return NameBook(merged)
    }

    /// `{"fr": {"title": …, "convener": …, "dimensions": {…}, "groups": {"age": {…}}}, …}`
    public var json: JSONValue { .object(languages.keys.sorted().map { ($0, languages[$0]!.json) }) }

    /// Reads `json` (the shape of `json`); `field` names the part of the input it came from, for errors.
    public init(json: JSONValue, field: String) throws(DomainError) {
        guard case .object(let byLanguage) = json else { throw .invalid(field, #"an object of languages, such as {"fr": {"title": "…"}}"#) }
        var languages: [String: Names] = [:]
        for (language, value) in byLanguage {
            let at = "\(field).\(language)"
            guard case .object(let parts) = value else { throw .invalid(at, "an object with title, convener, dimensions or groups") }
            var names = Names()
            for (part, content) in parts {
                switch part {
                case "title": names.title = try Self.text(content, "\(at).title")
                case "convener": names.convener = try Self.text(content, "\(at).convener")
                case "dimensions": names.dimensions = try Self.strings(content, "\(at).dimensions")
                case "groups":
                    guard case .object(let dimensions) = content else { throw .invalid("\(at).groups", "an object of dimensions") }
                    for (dimension, groups) in dimensions { names.groups[dimension] = try Self.strings(groups, "\(at).groups.\(dimension)") }
                default: throw .invalid("\(at).\(part)", "not one of title, convener, dimensions, groups")
                }
            }
            languages[language] = names
        }
        self.init(languages)
    }

    private static func text(_ value: JSONValue, _ field: String) throws(DomainError) -> String {
        guard let text = value.stringValue else { throw .invalid(field, "a string") }
        return text
    }

    private static func strings(_ value: JSONValue, _ field: String) throws(DomainError) -> [String: String] {
        guard case .object(let pairs) = value else { throw .invalid(field, "an object of names") }
        var result: [String: String] = [:]
        for (code, name) in pairs { result[code] = try text(name, "\(field).\(code)") }
        return result
    }

    /// The names as of the end of a consultation's stream: those it was opened with, then each `ConsultationNamed` in order.
    public static func current(in stream: [DomainEvent]) -> NameBook {
        stream.reduce(NameBook()) { book, event in
            switch event {
            case .consultationOpened(let consultation): return book.merging(consultation.names)
            case .consultationNamed(let named): return book.merging(named.names)
            default: return book
            }
        }
    }
}

/// Names added to a consultation after it was opened (for reports in more languages, or better words).
public struct ConsultationNamed: Equatable, Sendable {
    public let consultation: String
    public let names: NameBook

    public init(consultation: String, names: NameBook) {
        self.consultation = consultation
        self.names = names
    }
}
