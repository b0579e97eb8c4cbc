import Crypto
import Foundation

/// Why personal content could not be sealed or opened. Never carries the content or a key.
public struct VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A symmetric key that may cross threads.
struct Secret: @unchecked Sendable {
    // `@unchecked Sendable`: SymmetricKey is an immutable value (its bytes are copied on write and
    // never written after creation); swift-crypto has not marked it Sendable yet.
    let key: SymmetricKey
}

/// The operator's master key: it seals every organisation's data key and never enters the database.
/// Its `id` (a digest of the key, not the key) says which master key sealed what.
public struct MasterKey: Sendable {
    private let secret: Secret
    var key: SymmetricKey { secret.key }
    /// Hex of the first 16 bytes of SHA-256 of the key.
    public let id: String

    static let tag = "consultd-master-key-v1"

    init(raw: some ContiguousBytes) throws {
        let key = SymmetricKey(data: raw)
        guard key.bitCount == 256 else { throw VaultError("a master key is 32 bytes") }
        secret = Secret(key: key)
        id = key.withUnsafeBytes { Data(SHA256.hash(data: Data($0)).prefix(16)) }.map { String(format: "%02x", $0) }.joined()
    }

    /// A new random key.
    public static func generate() -> MasterKey {
        try! MasterKey(raw: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    /// The key file's text: the tag and the key in base64, on one line.
    public var fileText: String { "\(Self.tag) \(key.withUnsafeBytes { Data($0) }.base64EncodedString())\n" }

    /// Reads a key file written by `consultctl keys generate-master`; the error names the file, not the key.
    public static func load(_ path: String) throws -> MasterKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw VaultError("cannot read master key file \(path)") }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, parts[0] == tag, let raw = Data(base64Encoded: String(parts[1])), raw.count == 32 else {
            throw VaultError("\(path) is not a consultd master key file (one line: \(tag) and 32 bytes in base64)")
        }
        return try MasterKey(raw: raw)
    }
}

/// AES-256-GCM boxes bound to what they belong to: a box opened under another context (another event,
/// another field, another organisation) fails, so ciphertexts cannot be moved between events.
enum Sealing {
    /// nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes).
    static func seal(_ plaintext: some DataProtocol, key: SymmetricKey, context: [UInt8]) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key, authenticating: context).combined else {
            throw VaultError("AES-GCM gave no combined box")
        }
        return combined
    }

    static func open(_ box: some DataProtocol, key: SymmetricKey, context: [UInt8]) throws -> Data {
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: box), using: key, authenticating: context)
        } catch {
            throw VaultError("a sealed box does not open with its key (wrong key or altered box)")
        }
    }

    static func uuidBytes(_ id: UUID) -> [UInt8] { withUnsafeBytes(of: id.uuid) { Array($0) } }

    /// An organisation's data key, sealed under the master key.
    static func organisationKeyContext(id: UUID, organisation: String) -> [UInt8] {
        Array("consultd-organisation-key-v1".utf8) + [0] + uuidBytes(id) + Array(organisation.utf8)
    }

    /// One event's content key, sealed under its organisation's data key.
    static func contentKeyContext(event: UUID) -> [UInt8] {
        Array("consultd-content-key-v1".utf8) + [0] + uuidBytes(event)
    }

    /// One personal field of one event, sealed under the event's content key.
    static func contentContext(event: UUID, path: [String]) -> [UInt8] {
        Array("consultd-content-v1".utf8) + [0] + uuidBytes(event) + Array(path.joined(separator: ".").utf8)
    }
}
