import LineProtocol

/// Checks a submission body against SPEC.md ("Submission body") and the consultation it is for.
/// Errors are `INVALID` and name the field at fault.
public enum SubmissionRules {
    public static let maxTextLength = 32_768
    public static let maxPeopleConsulted = 1_000_000_000
    static let fields: Set<String> = ["stage", "language", "text", "represents", "people_consulted", "topics"]

    public static func validate(_ body: JSONValue, for consultation: Consultation) -> RequestError? {
        guard case .object(let members) = body else { return invalid("body", "must be a JSON object") }
        if let unknown = members.first(where: { !fields.contains($0.0) }) {
            return invalid(String(unknown.0.prefix(64)), "unknown field (allowed: \(fields.sorted().joined(separator: ", ")))")
        }
        guard let stage = body["stage"]?.stringValue else { return invalid("stage", "required, a string") }
        guard consultation.stages.contains(stage) else {
            return invalid("stage", "must be one of \(consultation.stages.joined(separator: ", "))")
        }
        guard let language = body["language"]?.stringValue, isLanguageTag(language) else {
            return invalid("language", "required, a BCP 47 tag such as ar or fr-CA")
        }
        guard let text = body["text"]?.stringValue else { return invalid("text", "required, a string") }
        guard (1...maxTextLength).contains(text.unicodeScalars.count) else {
            return invalid("text", "must be 1 to \(maxTextLength) characters")
        }
        if let represents = body["represents"] {
            guard case .object(let dimensions) = represents else {
                return invalid("represents", "must be an object mapping dimensions to lists of group codes")
            }
            for (dimension, groups) in dimensions {
                let field = "represents.\(dimension.prefix(64))"
                guard consultation.baseline[dimension] != nil else {
                    return invalid(field, "not a dimension of this consultation (\(consultation.dimensions.joined(separator: ", ")))")
                }
                guard let codes = groups.stringArray, (1...50).contains(codes.count),
                    codes.allSatisfy({ (1...64).contains($0.unicodeScalars.count) })
                else {
                    return invalid(field, "must be a list of 1 to 50 group codes of 1 to 64 characters")
                }
            }
        }
        if let people = body["people_consulted"] {
            guard case .number(let digits) = people, let count = Int(digits), (0...maxPeopleConsulted).contains(count) else {
                return invalid("people_consulted", "must be a whole number from 0 to \(maxPeopleConsulted)")
            }
        }
        if let topics = body["topics"] {
            guard let list = topics.stringArray, list.count <= 20,
                list.allSatisfy({ (1...100).contains($0.unicodeScalars.count) })
            else {
                return invalid("topics", "must be a list of at most 20 strings of 1 to 100 characters")
            }
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

    static func invalid(_ field: String, _ message: String) -> RequestError {
        RequestError(.invalid, "\(field): \(message)")
    }
}
