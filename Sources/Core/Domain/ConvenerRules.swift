import Foundation

/// The vocabularies of SPEC.md, and the checks conveners' commands make before writing anything.
public enum ConvenerRules {
    public static let organisationTypes = [
        "community_based", "ngo", "international_ngo", "faith_based", "trade_union", "academic", "private_sector",
        "local_authority", "nhri", "network", "other",
    ]
    public static let leadership = [
        "refugees", "migrants", "stateless", "diaspora", "women", "youth", "persons_with_disabilities",
    ]
    public static let levels = ["local", "national", "regional", "global"]
    public static let stages = ["design", "implementation", "monitoring", "evaluation"]
    /// Shares in a dimension must sum to 1 within this.
    public static let shareTolerance = 1e-6

    /// Ids of organisations and consultations, and dimension names: what a protocol ARG may be
    /// (`[A-Za-z0-9._:-]{1,128}`), so that every id can be named on the wire.
    public static func isIdentifier(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
        }
    }

    /// Why `organisation` may not be registered as it is, if anything.
    public static func refusal(_ organisation: Organisation) -> DomainError? {
        guard isIdentifier(organisation.id) else { return .invalid("id", "1 to 128 of A-Z a-z 0-9 . _ : -") }
        guard !organisation.name.trimmingCharacters(in: .whitespaces).isEmpty, organisation.name.count <= 200 else {
            return .invalid("name", "1 to 200 characters")
        }
        guard organisationTypes.contains(organisation.type) else {
            return .invalid("type", "one of \(organisationTypes.joined(separator: ", "))")
        }
        if let unknown = organisation.leadership.first(where: { !leadership.contains($0) }) {
            return .invalid("leadership", "\(unknown) is not one of \(leadership.joined(separator: ", "))")
        }
        guard Set(organisation.leadership).count == organisation.leadership.count else {
            return .invalid("leadership", "listed twice")
        }
        guard levels.contains(organisation.level) else { return .invalid("level", "one of \(levels.joined(separator: ", "))") }
        guard organisation.country.count == 3, organisation.country.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            return .invalid("country", "an ISO 3166-1 alpha-3 code such as JOR")
        }
        return nil
    }

    /// Why `consultation` may not be opened as it is, if anything.
    public static func refusal(_ consultation: Consultation) -> DomainError? {
        guard isIdentifier(consultation.id) else { return .invalid("id", "1 to 128 of A-Z a-z 0-9 . _ : -") }
        guard !consultation.title.trimmingCharacters(in: .whitespaces).isEmpty else { return .invalid("title", "required") }
        guard !consultation.convener.trimmingCharacters(in: .whitespaces).isEmpty else { return .invalid("convener", "required") }
        guard consultation.closesAt > consultation.opensAt else { return .invalid("closes_at", "must be after opens_at") }
        guard !consultation.stages.isEmpty, Set(consultation.stages).count == consultation.stages.count else {
            return .invalid("stages", "one or more of \(stages.joined(separator: ", ")), each once")
        }
        if let unknown = consultation.stages.first(where: { !stages.contains($0) }) {
            return .invalid("stages", "\(unknown) is not one of \(stages.joined(separator: ", "))")
        }
        guard !consultation.languages.isEmpty, consultation.languages.allSatisfy(SubmissionRules.isLanguageTag) else {
            return .invalid("languages", "one or more BCP 47 tags such as ar, fr-CA")
        }
        guard !consultation.baseline.isEmpty else { return .invalid("baseline", "at least one dimension") }
        for dimension in consultation.dimensions {
            let shares = consultation.baseline[dimension]!
            guard isIdentifier(dimension), !shares.isEmpty else {
                return .invalid("baseline.\(dimension)", "a dimension name and at least one group")
            }
            if let bad = shares.first(where: { !($0.value >= 0 && $0.value <= 1) }) {
                return .invalid("baseline.\(dimension).\(bad.key)", "a share from 0 to 1")
            }
            if shares.keys.contains("other") {
                return .invalid("baseline.\(dimension).other", "reserved for groups outside the baseline")
            }
            let sum = shares.values.reduce(0, +)
            guard abs(sum - 1) <= shareTolerance else {
                return .invalid("baseline.\(dimension)", "shares sum to \(sum), not 1")
            }
        }
        return refusal(consultation.names, of: consultation)
    }

    /// Names may be this long at most, in characters.
    public static let maxNameLength = 300

    /// Why `names` may not be given to `consultation`, if anything: every language a BCP 47 tag, every
    /// name 1 to 300 characters of text, every dimension and group one the consultation has.
    public static func refusal(_ names: NameBook, of consultation: Consultation) -> DomainError? {
        func bad(_ name: String) -> Bool {
            name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || name.count > maxNameLength
                || name.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }
        for language in names.languages.keys.sorted() {
            let given = names.languages[language]!
            let at = "names.\(language)"
            guard SubmissionRules.isLanguageTag(language) else { return .invalid(at, "not a BCP 47 tag such as ar or fr-CA") }
            let text = "1 to \(maxNameLength) characters, no control characters"
            if let title = given.title, bad(title) { return .invalid("\(at).title", text) }
            if let convener = given.convener, bad(convener) { return .invalid("\(at).convener", text) }
            for (dimension, name) in given.dimensions.sorted(by: { $0.key < $1.key }) {
                guard consultation.baseline[dimension] != nil else {
                    return .invalid("\(at).dimensions.\(dimension)", "not a dimension of \(consultation.id) (\(consultation.dimensions.joined(separator: ", ")))")
                }
                if bad(name) { return .invalid("\(at).dimensions.\(dimension)", text) }
            }
            for (dimension, groups) in given.groups.sorted(by: { $0.key < $1.key }) {
                guard let shares = consultation.baseline[dimension] else {
                    return .invalid("\(at).groups.\(dimension)", "not a dimension of \(consultation.id) (\(consultation.dimensions.joined(separator: ", ")))")
                }
                for (group, name) in groups.sorted(by: { $0.key < $1.key }) {
                    guard shares[group] != nil else {
                        return .invalid("\(at).groups.\(dimension).\(group)", "not a group of \(dimension) (\(shares.keys.sorted().joined(separator: ", ")))")
                    }
                    if bad(name) { return .invalid("\(at).groups.\(dimension).\(group)", text) }
                }
            }
        }
        return nil
    }
}
