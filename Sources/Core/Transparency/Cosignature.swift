import Crypto

/// Ed25519 checkpoint cosignatures, v1 (c2sp.org/tlog-cosignature): the signature line's bytes are
/// key ID || 8-byte big-endian timestamp || 64-byte Ed25519 signature over
/// `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note text.
public enum Cosignature {
    /// The signed message for a checkpoint text at `timestamp` (POSIX seconds).
    public static func message(checkpointText: String, timestamp: UInt64) -> [UInt8] {
        message(checkpointText: Array(checkpointText.utf8), timestamp: timestamp)
    }

    /// The signed message for a checkpoint's note text as bytes (what a verifier is given).
    public static func message(checkpointText: [UInt8], timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n".utf8) + checkpointText
    }

    /// The timestamp of a cosignature's bytes (after the key ID), or nil when they are not 72 bytes
    /// or the timestamp exceeds 2^63 - 1.
    public static func timestamp(of signature: [UInt8]) -> UInt64? {
        guard signature.count == 72 else { return nil }
        let time = signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return time <= UInt64(Int64.max) ? time : nil
    }
}

/// Makes cosignatures with a type 0x04 key.
public struct Cosigner: Sendable {
    public let key: SignerKey

    /// A cosigner from a signer key of either type: the key ID is always the cosignature (0x04) one.
    public init(key: SignerKey) {
        self.key = key.type == .cosignatureV1 ? key : key.asType(.cosignatureV1)
    }

    public var name: String { key.name }
    public var keyID: UInt32 { key.keyID }
    public var verifierKey: VerifierKey { key.verifierKey }

    /// The cosignature line for a checkpoint's note text at `timestamp` (POSIX seconds, > 0).
    public func cosign(checkpointText: String, timestamp: UInt64) throws -> NoteSignature {
        precondition(timestamp > 0 && timestamp <= UInt64(Int64.max), "a cosignature's timestamp is in 1...2^63-1")
        let signature = try key.privateKey.signature(for: Cosignature.message(checkpointText: checkpointText, timestamp: timestamp))
        let time = (0..<8).map { UInt8(timestamp >> (56 - 8 * UInt64($0)) & 0xff) }
        return NoteSignature(name: key.name, keyID: key.keyID, signature: time + Array(signature))
    }
}

/// Checks v1 cosignatures by one cosigner (a type 0x04 vkey).
public struct CosignatureVerifier: NoteVerifier {
    public let name: String
    public let keyID: UInt32
    let publicKey: [UInt8]

    public func verify(text: [UInt8], signature: [UInt8]) -> Bool {
        guard let time = Cosignature.timestamp(of: signature),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        // The one definition of the signed message, shared with `Cosigner`.
        return key.isValidSignature(Array(signature.suffix(64)), for: Cosignature.message(checkpointText: text, timestamp: time))
    }
}
