/// C2SP signed notes (c2sp.org/signed-note): a text ending in a newline, a blank line, and one or
/// more signature lines `— <key name> <base64(key ID || signature)>`.

/// Why a note, a signature line or a key was refused, in words that name what is wrong.
public enum NoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(limit: Int)
    case notUTF8
    /// An ASCII control character other than a newline, at this byte offset.
    case controlCharacter(offset: Int)
    /// No blank line separates the text from the signatures.
    case noSignatureBlock
    case emptyText
    case noSignatures
    case tooManySignatures(limit: Int)
    /// The note does not end with a newline.
    case unterminated
    /// A signature line (counted from 1 within the signature block) is not `— <name> <base64>`.
    case malformedSignatureLine(line: Int, reason: String)
    /// A key name that is empty or holds a space or a plus.
    case invalidKeyName(String)
    /// A signature from a trusted key (name and key ID match) that does not verify.
    case invalidSignature(keyName: String)
    /// No signature from any trusted key verified.
    case noTrustedSignature

    public var description: String {
        switch self {
        case .tooLarge(let limit): return "the note is larger than \(limit) bytes"
        case .notUTF8: return "the note is not valid UTF-8"
        case .controlCharacter(let offset): return "the note holds a control character at byte \(offset)"
        case .noSignatureBlock: return "the note has no blank line separating its text from its signatures"
        case .emptyText: return "the note's text is empty"
        case .noSignatures: return "the note has no signature lines"
        case .tooManySignatures(let limit): return "the note has more than \(limit) signatures"
        case .unterminated: return "the note does not end with a newline"
        case .malformedSignatureLine(let line, let reason): return "signature line \(line): \(reason)"
        case .invalidKeyName(let name): return "invalid key name \"\(name)\" (it must be non-empty, without spaces or +)"
        case .invalidSignature(let name): return "the signature by \(name) does not verify"
        case .noTrustedSignature: return "no signature by a trusted key"
        }
    }
}

/// One signature line.
public struct NoteSignature: Sendable, Equatable, Hashable {
    public var name: String
    public var keyID: UInt32
    /// The signature's bytes after the 4-byte key ID (for a cosignature: timestamp and signature).
    public var signature: [UInt8]

    public init(name: String, keyID: UInt32, signature: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    /// `— <name> <base64>\n`.
    public var line: String {
        "\u{2014} \(name) \(Base64.encode(KeyID.bytes(keyID) + signature))\n"
    }

    /// Parses one line without its newline.
    public init(line: Substring, number: Int) throws(NoteError) {
        let dash = "\u{2014} "
        guard line.hasPrefix(dash) else {
            throw .malformedSignatureLine(line: number, reason: "it does not start with an em dash and a space")
        }
        let rest = line.dropFirst(dash.count)
        let parts = rest.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .malformedSignatureLine(line: number, reason: "it is not a key name and a signature separated by one space")
        }
        let name = String(parts[0])
        guard KeyName.isValid(name) else { throw .invalidKeyName(name) }
        guard let bytes = Base64.decode(parts[1]) else {
            throw .malformedSignatureLine(line: number, reason: "the signature is not base64")
        }
        guard bytes.count > 4 else {
            throw .malformedSignatureLine(line: number, reason: "the signature is shorter than a key ID and one byte")
        }
        self.init(name: name, keyID: KeyID.value(bytes.prefix(4)), signature: Array(bytes.dropFirst(4)))
    }
}

/// Key names: non-empty, no Unicode spaces, no plus.
public enum KeyName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }
    }
}

/// Something that can check signatures by one key (a name and a key ID).
public protocol NoteVerifier: Sendable {
    var name: String { get }
    var keyID: UInt32 { get }
    /// Whether `signature` (the bytes after the key ID) is valid over the note's `text`.
    func verify(text: [UInt8], signature: [UInt8]) -> Bool
}

/// A signed note: its text (ending in a newline) and its signatures, in order.
public struct SignedNote: Sendable, Equatable {
    public var text: String
    public var signatures: [NoteSignature]

    /// The most signatures a parsed note may carry (the spec asks for at least 16).
    public static let defaultMaxSignatures = 100
    /// The largest note parsed.
    public static let defaultMaxBytes = 1 << 20

    public init(text: String, signatures: [NoteSignature] = []) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as bytes: text, blank line, signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    public init(parsing text: String, maxSignatures: Int = defaultMaxSignatures) throws(NoteError) {
        try self.init(parsing: Array(text.utf8), maxSignatures: maxSignatures)
    }

    public init(parsing bytes: [UInt8], maxSignatures: Int = defaultMaxSignatures, maxBytes: Int = defaultMaxBytes) throws(NoteError) {
        guard bytes.count <= maxBytes else { throw .tooLarge(limit: maxBytes) }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .notUTF8 }
        if let offset = bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x0A }) {
            throw .controlCharacter(offset: offset)
        }
        guard bytes.last == 0x0A else { throw .unterminated }
        // The text ends at the last blank line: the last "\n\n" in the note.
        var split: Int?
        var index = bytes.count - 2
        while index >= 0 {
            if bytes[index] == 0x0A && bytes[index + 1] == 0x0A {
                split = index
                break
            }
            index -= 1
        }
        guard let split else { throw .noSignatureBlock }
        let textBytes = bytes[...split]  // through the text's final newline
        guard textBytes.count > 1 else { throw .emptyText }
        let block = bytes[(split + 2)...]
        guard !block.isEmpty else { throw .noSignatures }
        var signatures: [NoteSignature] = []
        let lines = String(decoding: block, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for (offset, line) in lines.enumerated() {
            if signatures.count == maxSignatures { throw .tooManySignatures(limit: maxSignatures) }
            signatures.append(try NoteSignature(line: line, number: offset + 1))
        }
        self.text = String(decoding: textBytes, as: UTF8.self)
        self.signatures = signatures
    }

    /// Checks every signature from a key in `verifiers` (same name and key ID; others are ignored,
    /// as the spec requires) and returns the indexes, in `verifiers`, of the keys whose signature
    /// verified. Throws `invalidSignature` if one of them does not verify.
    public func verifiedKeys(_ verifiers: [any NoteVerifier]) throws(NoteError) -> Set<Int> {
        let message = Array(text.utf8)
        var verified = Set<Int>()
        for signature in signatures {
            for (index, verifier) in verifiers.enumerated() where verifier.name == signature.name && verifier.keyID == signature.keyID {
                guard verifier.verify(text: message, signature: signature.signature) else {
                    throw .invalidSignature(keyName: signature.name)
                }
                verified.insert(index)
            }
        }
        return verified
    }

    /// As `verifiedKeys`, and throws `noTrustedSignature` unless at least one verified.
    @discardableResult
    public func verify(_ verifiers: [any NoteVerifier]) throws(NoteError) -> Set<Int> {
        let verified = try verifiedKeys(verifiers)
        guard !verified.isEmpty else { throw .noTrustedSignature }
        return verified
    }
}
