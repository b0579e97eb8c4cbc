import JSON

/// Checks a submission body against SPEC.md ("Submission body") and the consultation it is for.
/// Errors are `DomainError.invalid` and name the field at fault.
public enum SubmissionRules {
    public static let maxTextLength = 32_768
    public static let maxPeopleConsulted = 1_000_000_000
    static let fields: Set<String> = ["stage", "language", "text", "represents", "people_consulted", "topics"]

    /// What the checks against the consultation need of a body that passed `shape(of:)`: its
    /// stage and the dimensions it names. Small, so a write in flight holds this, not the parsed body.
    public struct Shape: Equatable, Sendable {
        public let stage: String
        public let dimensions: [String]
    }

    /// Checks `body` against the consultation it is for.
    public static func validate(_ body: JSONValue, for consultation: Consultation) -> DomainError? {
        switch shape(of: body) {
        case .failure(let error): return error
        case .success(let shape): return check(shape, for: consultation)
        }
    }

    /// Every check that does not depend on the consultation: fields, types, lengths, the language tag.
    /// The daemon runs it as soon as a SUBMIT is read, so a malformed body is refused at once and
    /// its parsed tree is never queued.
    public static func shape(of body: JSONValue) -> Result<Shape, DomainError> {
        guard case .object(let members) = body else { return .failure(invalid("body", "must be a JSON object")) }
        if let unknown = members.first(where: { !fields.contains($0.0) }) {
            return .failure(
                invalid(String(unknown.0.prefix(64)), "unknown field (allowed: \(fields.sorted().joined(separator: ", ")))"))
        }
        guard let stage = body["stage"]?.stringValue else { return .failure(invalid("stage", "required, a string")) }
        guard let language = body["language"]?.stringValue, isLanguageTag(language) else {
            return .failure(invalid("language", "required, a BCP 47 tag such as ar or fr-CA"))
        }
        guard let text = body["text"]?.stringValue else { return .failure(invalid("text", "required, a string")) }
        guard (1...maxTextLength).contains(text.unicodeScalars.count) else {
            return .failure(invalid("text", "must be 1 to \(maxTextLength) characters"))
        }
        var dimensions: [String] = []
        if let represents = body["represents"] {
            guard case .object(let entries) = represents else {
                return .failure(invalid("represents", "must be an object mapping dimensions to lists of group codes"))
            }
            for (dimension, groups) in entries {
                guard let codes = groups.stringArray, (1...50).contains(codes.count),
                    codes.allSatisfy({ (1...64).contains($0.unicodeScalars.count) })
                else {
                    return .failure(invalid("represents.\(dimension.prefix(64))", "must be a list of 1 to 50 group codes of 1 to 64 characters"))
                }
                dimensions.append(dimension)
            }
        }
        if let people = body["people_consulted"] {
            guard case .number(let digits) = people, let count = Int(digits), (0...maxPeopleConsulted).contains(count) else {
                return .failure(invalid("people_consulted", "must be a whole number from 0 to \(maxPeopleConsulted)"))
            }
        }
        if let topics = body["topics"] {
            guard let list = topics.stringArray, list.count <= 20,
                list.allSatisfy({ (1...100).contains($0.unicodeScalars.count) })
            else {
                return .failure(invalid("topics", "must be a list of at most 20 strings of 1 to 100 characters"))
            }
        }
        return .success(Shape(stage: stage, dimensions: dimensions))
    }

    /// The checks that depend on the consultation: its stages and dimensions.
    public static func check(_ shape: Shape, for consultation: Consultation) -> DomainError? {
        guard consultation.stages.contains(shape.stage) else {
            return invalid("stage", "must be one of \(consultation.stages.joined(separator: ", "))")
        }
        for dimension in shape.dimensions where consultation.baseline[dimension] == nil {
            return invalid(
                "represents.\(dimension.prefix(64))",
                "not a dimension of this consultation (\(consultation.dimensions.joined(separator: ", ")))")
        }
        return nil
    }

    /// A simplified BCP 47 check: a 2–3 letter language, then subtags of 1–8 letters or digits.
    public static func isLanguageTag(_ tag: String) -> Bool {
        let parts = tag.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            return false
        }
        return parts.dropFirst().allSatisfy { part in
            (1...8).contains(part.count) && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
        }
    }

    static func invalid(_ field: String, _ message: String) -> DomainError {
        DomainError.invalid(field, message)
    }
}
