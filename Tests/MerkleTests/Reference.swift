import Merkle

/// RFC 9162 §2.1 definitions transcribed literally (recursive, over leaf hashes), as the oracle.
enum Reference {
    /// The largest power of two strictly less than n (n > 1).
    static func k(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    /// MTH(D[n]); `d` holds leaf hashes, so MTH of one entry is that entry.
    static func mth(_ d: ArraySlice<Hash>) -> Hash {
        if d.isEmpty { return Hash(hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")! }
        if d.count == 1 { return d.first! }
        let k = k(d.count)
        return MerkleHash.node(mth(d.prefix(k)), mth(d.dropFirst(k)))
    }

    /// PATH(m, D[n]).
    static func path(_ m: Int, _ d: ArraySlice<Hash>) -> [Hash] {
        if d.count == 1 { return [] }
        let k = k(d.count)
        if m < k {
            return path(m, d.prefix(k)) + [mth(d.dropFirst(k))]
        } else {
            return path(m - k, d.dropFirst(k)) + [mth(d.prefix(k))]
        }
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
    static func proof(_ m: Int, _ d: ArraySlice<Hash>) -> [Hash] {
        subproof(m, d, true)
    }

    static func subproof(_ m: Int, _ d: ArraySlice<Hash>, _ b: Bool) -> [Hash] {
        if m == d.count { return b ? [] : [mth(d)] }
        let k = k(d.count)
        if m <= k {
            return subproof(m, d.prefix(k), b) + [mth(d.dropFirst(k))]
        } else {
            return subproof(m - k, d.dropFirst(k), false) + [mth(d.prefix(k))]
        }
    }
}
