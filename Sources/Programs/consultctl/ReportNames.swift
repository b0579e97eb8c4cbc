import Domain
import Foundation

/// How a report names what comes from the data (a consultation's title and convener, its
/// dimensions and groups, languages) in the report's language. In order: the names the convener
/// gave in that language; CLDR's standard names for well-known codes (ISO 3166 countries, BCP 47
/// languages), through Foundation's ICU; the report's own words for common dimensions; then, visibly,
/// the English name or the code itself, marked with the language it is in. Never an empty name.
struct Naming {
    /// A name, and the BCP 47 tag of the language it is in when that is not the report's (nil: the
    /// report's own language, or a code, which has none).
    struct Name: Equatable {
        let text: String
        let language: String?

        /// The name as HTML, isolated from the text around it (`<bdi>`), so that a name written right
        /// to left inside a left-to-right sentence, or the reverse, keeps its own order and the sentence's.
        var html: String {
            "<bdi\(language.map { " lang=\"\(ReportContent.escape($0))\"" } ?? "")>\(ReportContent.escape(text))</bdi>"
        }
    }

    let language: Language
    let consultation: Consultation
    /// The names given so far (at opening and by `ConsultationNamed`), as of the report's position.
    let book: NameBook

    private var own: Names { book[language.rawValue] }
    private var english: Names { book["en"] }
    private var locale: Locale { Locale(identifier: language.rawValue) }

    /// `text` as given in the report's language, or else in English (marked as such when the report is not).
    private func given(_ pick: (Names) -> String?) -> Name? {
        if let text = pick(own) { return Name(text: text, language: nil) }
        if let text = pick(english) { return Name(text: text, language: language == .en ? nil : "en") }
        return nil
    }

    var title: Name { given(\.title) ?? Name(text: consultation.title, language: nil) }
    var convener: Name { given(\.convener) ?? Name(text: consultation.convener, language: nil) }

    func dimension(_ code: String) -> Name {
        if let text = own.dimensions[code] { return Name(text: text, language: nil) }
        if let text = Words(language: language).knownDimension(code) { return Name(text: text, language: nil) }
        if let text = english.dimensions[code] { return Name(text: text, language: language == .en ? nil : "en") }
        return Name(text: code.replacingOccurrences(of: "_", with: " "), language: language == .en ? nil : "en")
    }

    func group(_ code: String, in dimension: String) -> Name {
        if let text = own.groups[dimension]?[code] { return Name(text: text, language: nil) }
        if let country = Self.country(code), let text = locale.localizedString(forRegionCode: country), text != country {
            return Name(text: text, language: nil)
        }
        if Self.isLanguageDimension(dimension), let text = languageName(code) { return Name(text: text.text, language: nil) }
        let fallback = language == .en ? nil : "en"
        if let text = english.groups[dimension]?[code] { return Name(text: text, language: fallback) }
        // Names given before names came by language are English in every consultation made so far.
        if let text = consultation.labels[dimension]?[code] { return Name(text: text, language: fallback) }
        return Name(text: code, language: nil)
    }

    /// A BCP 47 tag's CLDR name in the report's language ("ar" → "العربية", "arabe"), nil for an unknown language.
    func languageName(_ tag: String) -> Name? {
        guard SubmissionRules.isLanguageTag(tag), let text = locale.localizedString(forIdentifier: tag),
            text.lowercased() != tag.lowercased()
        else { return nil }
        return Name(text: text, language: nil)
    }

    /// A language as a report lists it: its name, then its tag ("العربية (ar)").
    func listedLanguage(_ tag: String) -> String {
        languageName(tag).map { "\($0.html) (\(Name(text: tag, language: nil).html))" } ?? Name(text: tag, language: nil).html
    }

    /// An ISO 3166-1 code (alpha-3 as consultd's data uses, or alpha-2) that ICU knows as a country
    /// or territory; nil for anything else ("0-17", "female", "XYZ", ICU's "ZZ" for unknown).
    static func country(_ code: String) -> String? {
        guard (2...3).contains(code.count), code.allSatisfy({ $0.isASCII && $0.isUppercase }), code != "ZZ",
            Locale.Region(code).isISORegion
        else { return nil }
        return code
    }

    /// Dimensions whose groups are languages (`language`, `languages`, `spoken_language`, …).
    static func isLanguageDimension(_ dimension: String) -> Bool { dimension.lowercased().contains("language") }
}
