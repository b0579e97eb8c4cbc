import Crypto
import Foundation
import JSON
import Merkle
import Transparency

/// The tree's size and root at a moment, signed with the operator's Ed25519 key, in one of two forms:
/// the first (`consultd-checkpoint-v1`, `origin` nil), or a C2SP signed note (c2sp.org/tlog-checkpoint,
/// `origin` set: the note's text is origin, size and base64 root; the key's name is the origin).
public struct Checkpoint: Equatable, Sendable {
    public let size: Int64
    public let root: Hash
    /// `recorded_at` of the event at position `size`, in microseconds since the epoch.
    public let logTimeMicroseconds: Int64
    /// Which key signed: for the first form the first 16 bytes of SHA-256 of the public key, in hex;
    /// for a signed note its key ID (8 hex digits, c2sp.org/signed-note).
    public let keyID: String
    public let signature: [UInt8]
    /// The C2SP origin line; nil for a checkpoint of the first form.
    public let origin: String?

    public init(size: Int64, root: Hash, logTimeMicroseconds: Int64, keyID: String, signature: [UInt8], origin: String? = nil) {
        self.size = size
        self.root = root
        self.logTimeMicroseconds = logTimeMicroseconds
        self.keyID = keyID
        self.signature = signature
        self.origin = origin
    }

    /// The C2SP checkpoint (note text) of a signed-note checkpoint.
    public var c2sp: Transparency.Checkpoint? {
        origin.map { Transparency.Checkpoint(origin: $0, size: size, root: root) }
    }

    /// The signed note with the log's signature (no cosignatures), for a C2SP checkpoint.
    public var note: SignedNote? {
        guard let origin, let c2sp, let id = UInt32(keyID, radix: 16) else { return nil }
        return SignedNote(text: c2sp.text, signatures: [NoteSignature(name: origin, keyID: id, signature: signature)])
    }

    /// The bytes signed (docs/TRUST.md, "Checkpoints"): four lines of text.
    public static func signedText(size: Int64, root: Hash, logTimeMicroseconds: Int64) -> [UInt8] {
        Array("consultd-checkpoint-v1\nsize \(size)\nroot \(root.hex)\ntime_us \(logTimeMicroseconds)\n".utf8)
    }

    public var signedText: [UInt8] {
        if let c2sp { return Array(c2sp.text.utf8) }
        return Self.signedText(size: size, root: root, logTimeMicroseconds: logTimeMicroseconds)
    }

    /// Signs a tree head: as a C2SP signed note when `origin` is given, else in the first form.
    public static func sign(size: Int64, root: Hash, logTimeMicroseconds: Int64, with key: SigningKey, origin: String? = nil) throws -> Checkpoint {
        if let origin {
            let note = try key.noteKey(origin: origin).sign(SignedNote(text: Transparency.Checkpoint(origin: origin, size: size, root: root).text))
            return Checkpoint(
                size: size, root: root, logTimeMicroseconds: logTimeMicroseconds, keyID: KeyID.hex(note.signatures[0].keyID),
                signature: note.signatures[0].signature, origin: origin)
        }
        let signature = try key.privateKey().signature(for: signedText(size: size, root: root, logTimeMicroseconds: logTimeMicroseconds))
        return Checkpoint(
            size: size, root: root, logTimeMicroseconds: logTimeMicroseconds, keyID: key.publicKey.id, signature: Array(signature))
    }

    /// True when `key` signed exactly this checkpoint (in either form).
    public func isSigned(by key: PublicKey) -> Bool {
        let expectedID = origin.map { key.keyID(origin: $0) } ?? key.id
        return keyID == expectedID && ((try? key.publicKey())?.isValidSignature(signature, for: signedText) ?? false)
    }

    /// As reports and receipts carry it.
    public var json: JSONValue {
        .object([
            ("size", .number(String(size))), ("root", .string(root.hex)), ("time_us", .number(String(logTimeMicroseconds))),
            ("time", .string(Self.iso(microseconds: logTimeMicroseconds))), ("key_id", .string(keyID)),
            ("signature", .string(Data(signature).base64EncodedString())),
        ] + (origin.map { [("origin", JSONValue.string($0))] } ?? []))
    }

    public init(json: JSONValue) throws {
        func field(_ name: String) throws -> JSONValue {
            guard let value = json[name] else { throw TrustError("checkpoint.\(name): missing") }
            return value
        }
        guard case .number(let size) = try field("size"), let sizeValue = Int64(size),
            case .number(let time) = try field("time_us"), let timeValue = Int64(time)
        else { throw TrustError("checkpoint: size and time_us must be whole numbers") }
        guard let rootText = try field("root").stringValue, let root = Hash(hex: rootText) else {
            throw TrustError("checkpoint.root: 64 hex digits")
        }
        guard let keyID = try field("key_id").stringValue,
            let signatureText = try field("signature").stringValue, let signature = Data(base64Encoded: signatureText)
        else { throw TrustError("checkpoint: key_id and signature (base64) are required") }
        self.init(
            size: sizeValue, root: root, logTimeMicroseconds: timeValue, keyID: keyID, signature: Array(signature),
            origin: json["origin"]?.stringValue)
    }

    /// An ISO 8601 time with microseconds, for people (the signed text carries the integer).
    public static func iso(microseconds: Int64) -> String {
        let seconds = Date(timeIntervalSince1970: TimeInterval(microseconds.quotientAndRemainder(dividingBy: 1_000_000).quotient))
        let fraction = ((microseconds % 1_000_000) + 1_000_000) % 1_000_000
        let base = seconds.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false)).dropLast()  // the "Z"
        return "\(base).\(String(format: "%06d", fraction))Z"
    }
}

/// Why a trust artefact (a key, a checkpoint, a receipt) cannot be used.
public struct TrustError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The operator's Ed25519 key, which signs checkpoints. Kept in a file only the daemon can read.
public struct SigningKey: Sendable {
    /// The raw 32 bytes (swift-crypto's key types are not Sendable; the bytes were checked on the way in).
    let raw: Data
    /// Its public half, which the operator publishes.
    public let publicKey: PublicKey

    public static func generate() -> SigningKey { SigningKey(key: Curve25519.Signing.PrivateKey()) }

    func privateKey() throws -> Curve25519.Signing.PrivateKey { try Curve25519.Signing.PrivateKey(rawRepresentation: raw) }

    static let tag = "consultd-ed25519-private"

    public var fileText: String { KeyFile.text(tag: Self.tag, raw: raw) }

    public init(fileText text: String) throws {
        guard let raw = KeyFile.raw(text, tag: Self.tag), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw TrustError("not a consultd signing key (made by `consultctl keys generate`)")
        }
        self.init(key: key)
    }

    init(key: Curve25519.Signing.PrivateKey) {
        raw = key.rawRepresentation
        publicKey = PublicKey(key: key.publicKey)
    }

    public static func load(_ path: String) throws -> SigningKey {
        try KeyFile.read(path, what: "the signing key", SigningKey.init(fileText:))
    }

    /// The same Ed25519 key as a C2SP signed-note signer (type 0x01) named `origin`.
    public func noteKey(origin: String) throws -> SignerKey {
        try SignerKey(name: origin, type: .ed25519, seed: Array(raw))
    }
}

/// The public half, which the operator publishes and everyone checks signatures with.
public struct PublicKey: Sendable {
    /// The raw 32 bytes (checked to be a key on the way in).
    let raw: Data

    func publicKey() throws -> Curve25519.Signing.PublicKey { try Curve25519.Signing.PublicKey(rawRepresentation: raw) }

    /// The first 16 bytes of SHA-256 of the raw key, in hex.
    public var id: String { Array(SHA256.hash(data: raw).prefix(16)).hex }

    static let tag = "consultd-ed25519-public"

    public var fileText: String { KeyFile.text(tag: Self.tag, raw: raw) }

    public init(fileText text: String) throws {
        guard let raw = KeyFile.raw(text, tag: Self.tag), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw TrustError("not a consultd public key (made by `consultctl keys generate`)")
        }
        self.init(key: key)
    }

    init(key: Curve25519.Signing.PublicKey) { raw = key.rawRepresentation }

    public static func load(_ path: String) throws -> PublicKey {
        try KeyFile.read(path, what: "the public key", PublicKey.init(fileText:))
    }

    /// The C2SP verifier key (type 0x01) of this key named `origin`.
    public func verifierKey(origin: String) throws -> VerifierKey {
        try VerifierKey(name: origin, type: .ed25519, publicKey: Array(raw))
    }

    /// The signed-note key ID, 8 hex digits, of this key named `origin` ("" if the name is invalid).
    public func keyID(origin: String) -> String {
        (try? verifierKey(origin: origin)).map { KeyID.hex($0.keyID) } ?? ""
    }

    /// The public key of a C2SP verifier key of type 0x01 (a `consultd-signing.vkey`).
    public init(verifierKey: VerifierKey) throws {
        guard verifierKey.type == .ed25519, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: Data(verifierKey.publicKey)) else {
            throw TrustError("the log's verifier key must be an Ed25519 (type 0x01) key")
        }
        self.init(key: key)
    }

    /// Reads either form: `consultd-signing.pub` (first form) or a C2SP vkey (`consultd-signing.vkey`).
    public static func loadAny(_ path: String) throws -> PublicKey {
        try KeyFile.read(path, what: "the public key") { text in
            if let vkey = try? VerifierKey(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)) { return try PublicKey(verifierKey: vkey) }
            return try PublicKey(fileText: text)
        }
    }
}

/// The key files `consultctl keys generate` writes: one line, a tag, then the raw key in base64.
enum KeyFile {
    static func text(tag: String, raw: Data) -> String { "\(tag) \(raw.base64EncodedString())\n" }

    /// The raw key of a file with `tag`, if it is one.
    static func raw(_ text: String, tag: String) -> Data? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, parts[0] == tag else { return nil }
        return Data(base64Encoded: String(parts[1]))
    }

    /// Reads and parses a key file; the error names the file.
    static func read<Key>(_ path: String, what: String, _ parse: (String) throws -> Key) throws -> Key {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw TrustError("cannot read \(what) \(path)") }
        do { return try parse(text) } catch let error as TrustError { throw TrustError("\(path): \(error)") }
    }
}
