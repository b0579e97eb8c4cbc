import Crypto
import Foundation
import JSON
import Merkle

/// The tree's size and root at a moment, signed with the operator's Ed25519 key.
public struct Checkpoint: Equatable, Sendable {
    public let size: Int64
    public let root: Hash
    /// `recorded_at` of the event at position `size`, in microseconds since the epoch.
    public let logTimeMicroseconds: Int64
    /// The first 16 bytes of SHA-256 of the public key, in hex: which key signed.
    public let keyID: String
    public let signature: [UInt8]

    public init(size: Int64, root: Hash, logTimeMicroseconds: Int64, keyID: String, signature: [UInt8]) {
        self.size = size
        self.root = root
        self.logTimeMicroseconds = logTimeMicroseconds
        self.keyID = keyID
        self.signature = signature
    }

    /// The bytes signed (docs/TRUST.md, "Checkpoints"): four lines of text.
    public static func signedText(size: Int64, root: Hash, logTimeMicroseconds: Int64) -> [UInt8] {
        Array("consultd-checkpoint-v1\nsize \(size)\nroot \(root.hex)\ntime_us \(logTimeMicroseconds)\n".utf8)
    }

    public var signedText: [UInt8] { Self.signedText(size: size, root: root, logTimeMicroseconds: logTimeMicroseconds) }

    /// Signs a tree head.
    public static func sign(size: Int64, root: Hash, logTimeMicroseconds: Int64, with key: SigningKey) throws -> Checkpoint {
        let signature = try key.privateKey().signature(for: signedText(size: size, root: root, logTimeMicroseconds: logTimeMicroseconds))
        return Checkpoint(
            size: size, root: root, logTimeMicroseconds: logTimeMicroseconds, keyID: key.publicKey.id, signature: Array(signature))
    }

    /// True when `key` signed exactly this checkpoint.
    public func isSigned(by key: PublicKey) -> Bool {
        keyID == key.id && ((try? key.publicKey())?.isValidSignature(signature, for: signedText) ?? false)
    }

    /// As reports and receipts carry it.
    public var json: JSONValue {
        .object([
            ("size", .number(String(size))), ("root", .string(root.hex)), ("time_us", .number(String(logTimeMicroseconds))),
            ("time", .string(Self.iso(microseconds: logTimeMicroseconds))), ("key_id", .string(keyID)),
            ("signature", .string(Data(signature).base64EncodedString())),
        ])
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
        self.init(size: sizeValue, root: root, logTimeMicroseconds: timeValue, keyID: keyID, signature: Array(signature))
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
