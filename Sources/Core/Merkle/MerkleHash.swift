import Crypto

/// The RFC 9162 §2.1.1 hashing rules; the 0x00/0x01 prefixes keep leaves and interior nodes from being confused.
public enum MerkleHash {
    /// SHA-256(0x00 || input): the hash of one log entry.
    public static func leaf(_ input: some Collection<UInt8>) -> Hash {
        var hasher = SHA256()
        var prefix: UInt8 = 0x00
        Swift.withUnsafeBytes(of: &prefix) { hasher.update(bufferPointer: $0) }
        let done: Void? = input.withContiguousStorageIfAvailable {
            hasher.update(bufferPointer: UnsafeRawBufferPointer($0))
        }
        if done == nil {
            Array(input).withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return Hash(digest: hasher.finalize())
    }

    /// SHA-256(0x01 || left || right): the hash of an interior node.
    public static func node(_ left: Hash, _ right: Hash) -> Hash {
        // One contiguous 65-byte stack buffer: a single update call into BoringSSL.
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { buf in
            let p = buf.baseAddress!
            p.storeBytes(of: UInt8(0x01), as: UInt8.self)
            left.store(to: p, at: 1)
            right.store(to: p, at: 33)
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buf))
            return Hash(digest: hasher.finalize())
        }
    }

    /// SHA-256 of the empty string: the MTH of a tree with no leaves.
    public static let empty: Hash = Hash(digest: SHA256().finalize())
}

/// A leaf hash fed in pieces, for leaf inputs that are never assembled in one buffer (the verifier
/// hashes each event straight from the database's row).
public struct LeafHasher {
    private var hasher = SHA256()

    public init() {
        var prefix: UInt8 = 0x00
        Swift.withUnsafeBytes(of: &prefix) { hasher.update(bufferPointer: $0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public func finalize() -> Hash { Hash(digest: hasher.finalize()) }
}
