import Crypto

/// Signature type bytes (c2sp.org/signed-note, "Signature types") this library implements.
public enum SignatureType: UInt8, Sendable {
    /// Ed25519 over the note text.
    case ed25519 = 0x01
    /// Timestamped Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, v1).
    case cosignatureV1 = 0x04
}

/// Key IDs: the first four bytes of SHA-256(name || 0x0A || type || public key), big-endian.
public enum KeyID {
    public static func compute(name: String, type: SignatureType, publicKey: [UInt8]) -> UInt32 {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [0x0A, type.rawValue] + publicKey)
        return value(Array(hasher.finalize()).prefix(4))
    }

    static func value(_ bytes: some Collection<UInt8>) -> UInt32 {
        bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func bytes(_ id: UInt32) -> [UInt8] {
        [UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)]
    }

    /// Eight lowercase hex digits.
    public static func hex(_ id: UInt32) -> String { Hex.encode(bytes(id)) }

    static func parseHex(_ text: Substring) -> UInt32? {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return UInt32(text, radix: 16)
    }
}

/// Why a key string was refused.
public struct KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A verifier key ("vkey"): `<name>+<hex key ID>+<base64(type || public key)>`, for Ed25519 note
/// signatures (type 0x01) or Ed25519 cosignatures (type 0x04).
public struct VerifierKey: Sendable, Equatable {
    public let name: String
    public let keyID: UInt32
    public let type: SignatureType
    public let publicKey: [UInt8]

    public init(name: String, type: SignatureType, publicKey: [UInt8]) throws(KeyError) {
        guard KeyName.isValid(name) else { throw KeyError("invalid key name \"\(name)\" (it must be non-empty, without spaces or +)") }
        guard publicKey.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)) != nil else {
            throw KeyError("an Ed25519 public key is 32 bytes")
        }
        self.name = name
        self.type = type
        self.publicKey = publicKey
        self.keyID = KeyID.compute(name: name, type: type, publicKey: publicKey)
    }

    public init(parsing text: String) throws(KeyError) {
        let trimmed = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        // The name has no plus; the base64 key may.
        let parts = trimmed.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw KeyError("a verifier key is <name>+<key id>+<base64 key>: found \(parts.count) parts") }
        guard let id = KeyID.parseHex(parts[1]) else { throw KeyError("the key ID of a verifier key is 8 lowercase hex digits") }
        guard let material = Base64.decode(parts[2]), let first = material.first else {
            throw KeyError("the key of a verifier key is not base64")
        }
        guard let type = SignatureType(rawValue: first) else {
            throw KeyError("unsupported signature type 0x\(Hex.encode([first])) (supported: 0x01 Ed25519, 0x04 Ed25519 cosignature)")
        }
        try self.init(name: String(parts[0]), type: type, publicKey: Array(material.dropFirst()))
        guard keyID == id else {
            throw KeyError("the verifier key's ID \(KeyID.hex(id)) is not the one its name and key give (\(KeyID.hex(keyID)))")
        }
    }

    /// The vkey string.
    public var text: String { "\(name)+\(KeyID.hex(keyID))+\(Base64.encode([type.rawValue] + publicKey))" }

    /// A verifier for the signatures this key makes.
    public var verifier: any NoteVerifier {
        switch type {
        case .ed25519: return Ed25519NoteVerifier(name: name, keyID: keyID, publicKey: publicKey)
        case .cosignatureV1: return CosignatureVerifier(name: name, keyID: keyID, publicKey: publicKey)
        }
    }
}

/// A signer key: `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>`.
/// `description` never shows the seed.
public struct SignerKey: Sendable, CustomStringConvertible {
    public let name: String
    public let keyID: UInt32
    public let type: SignatureType
    /// The 32-byte seed (Crypto's key type is not Sendable, so the key is made from it when used).
    private let seed: [UInt8]
    var privateKey: Curve25519.Signing.PrivateKey { try! Curve25519.Signing.PrivateKey(rawRepresentation: seed) }

    public init(name: String, type: SignatureType, seed: [UInt8]) throws(KeyError) {
        guard KeyName.isValid(name) else { throw KeyError("invalid key name \"\(name)\" (it must be non-empty, without spaces or +)") }
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw KeyError("an Ed25519 private key is a 32-byte seed")
        }
        self.name = name
        self.type = type
        self.seed = seed
        self.keyID = KeyID.compute(name: name, type: type, publicKey: Array(key.publicKey.rawRepresentation))
    }

    /// A new random key.
    public static func generate(name: String, type: SignatureType = .ed25519) throws(KeyError) -> SignerKey {
        try SignerKey(name: name, type: type, seed: Array(Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    public init(parsing text: String) throws(KeyError) {
        let trimmed = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        let parts = trimmed.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY" else {
            throw KeyError("a signer key is PRIVATE+KEY+<name>+<key id>+<base64 key>")
        }
        guard let id = KeyID.parseHex(parts[3]) else { throw KeyError("the key ID of a signer key is 8 lowercase hex digits") }
        guard let material = Base64.decode(parts[4]), let first = material.first else {
            throw KeyError("the key of a signer key is not base64")
        }
        guard let type = SignatureType(rawValue: first) else {
            throw KeyError("unsupported signature type 0x\(Hex.encode([first])) (supported: 0x01 Ed25519, 0x04 Ed25519 cosignature)")
        }
        try self.init(name: String(parts[2]), type: type, seed: Array(material.dropFirst()))
        guard keyID == id else { throw KeyError("the signer key's ID \(KeyID.hex(id)) is not the one its name and key give") }
    }

    /// The key file's text (secret).
    public var text: String {
        "PRIVATE+KEY+\(name)+\(KeyID.hex(keyID))+\(Base64.encode([type.rawValue] + seed))"
    }

    public var description: String { "signer key \(name)+\(KeyID.hex(keyID)) (type 0x\(Hex.encode([type.rawValue])))" }

    public var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    public var verifierKey: VerifierKey { try! VerifierKey(name: name, type: type, publicKey: publicKey) }

    /// The same key as the other type (a note signer's key used to cosign, or the reverse): the
    /// key ID changes with the type.
    public func asType(_ newType: SignatureType) -> SignerKey {
        try! SignerKey(name: name, type: newType, seed: seed)
    }

    /// An Ed25519 note signature over `text` (a type 0x01 key).
    public func sign(text: String) throws -> NoteSignature {
        precondition(type == .ed25519, "sign(text:) is for Ed25519 note keys; cosign with a cosignature key")
        return NoteSignature(name: name, keyID: keyID, signature: Array(try privateKey.signature(for: Array(text.utf8))))
    }

    /// Signs `note`'s text and appends the signature.
    public func sign(_ note: SignedNote) throws -> SignedNote {
        var note = note
        note.signatures.append(try sign(text: note.text))
        return note
    }
}

/// Ed25519 note signatures (type 0x01).
public struct Ed25519NoteVerifier: NoteVerifier {
    public let name: String
    public let keyID: UInt32
    let publicKey: [UInt8]

    public func verify(text: [UInt8], signature: [UInt8]) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: text)
    }
}
