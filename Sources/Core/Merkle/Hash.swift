import Crypto

/// A 32-byte SHA-256 value held inline, so frontier state and proofs never touch the heap per hash.
public struct Hash: Hashable, Sendable, CustomStringConvertible {
    // The 32 bytes in memory order. The words are native-endian loads used only as
    // storage (equality and hashing compare bytes); they are never read as numbers.
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    /// Length of every hash in bytes.
    public static let byteCount = 32

    @inlinable
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 32, "Hash needs exactly 32 bytes")
        w0 = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    @inlinable
    init(digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { Hash(raw: $0) }
    }

    /// Builds a hash from exactly 32 bytes (a precondition: a wrong length is a caller bug).
    public init(bytes: some Collection<UInt8>) {
        if let h = bytes.withContiguousStorageIfAvailable({ Hash(raw: UnsafeRawBufferPointer($0)) }) {
            self = h
        } else {
            self = Array(bytes).withUnsafeBytes { Hash(raw: $0) }
        }
    }

    /// Parses 64 hex digits (either case); nil for anything else.
    public init?(hex: String) {
        var s = hex
        guard let h = s.withUTF8({ Hash.decodeHex($0) }) else { return nil }
        self = h
    }

    private static func decodeHex(_ s: UnsafeBufferPointer<UInt8>) -> Hash? {
        guard s.count == 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out -> Hash? in
            for i in 0..<32 {
                guard let hi = nibble(s[2 * i]), let lo = nibble(s[2 * i + 1]) else { return nil }
                out[i] = hi << 4 | lo
            }
            return Hash(raw: UnsafeRawBufferPointer(out))
        }
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }

    /// Lowercase hex, 64 characters.
    public var hex: String {
        withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: 64) { out in
                let digits: StaticString = "0123456789abcdef"
                let d = digits.utf8Start
                for i in 0..<32 {
                    out[2 * i] = d[Int(raw[i] >> 4)]
                    out[2 * i + 1] = d[Int(raw[i] & 0x0f)]
                }
                return 64
            }
        }
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    public var description: String { hex }

    /// Calls `body` with the 32 bytes, without copying them to the heap.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: (w0, w1, w2, w3)) { try body($0) }
    }

    @inlinable
    func store(to p: UnsafeMutableRawPointer, at offset: Int) {
        p.storeBytes(of: w0, toByteOffset: offset, as: UInt64.self)
        p.storeBytes(of: w1, toByteOffset: offset + 8, as: UInt64.self)
        p.storeBytes(of: w2, toByteOffset: offset + 16, as: UInt64.self)
        p.storeBytes(of: w3, toByteOffset: offset + 24, as: UInt64.self)
    }
}
