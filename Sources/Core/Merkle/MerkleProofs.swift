/// Two-phase proof generation (list perfect nodes, fetch them, assemble) because nodes live in a database.
///
/// Every subtree the RFC 9162 definitions refer to is either a perfect aligned subtree or
/// a "right-edge" range ending at the tree size; the latter is hashed here from the perfect
/// subtrees that partition it. The `*Nodes` functions and the assembling functions walk the
/// same ranges, so the assemblers ask the provider for exactly the listed nodes.
///
/// Argument rules (violations are caller bugs and trap): inclusion needs `0 <= m < n`;
/// consistency needs `0 <= m <= n`, and `m == 0` or `m == n` yields an empty proof.
/// The verifiers never trap; they return false for out-of-range arguments.
public enum MerkleProofs {
    /// A half-open leaf range `start..<end` whose start is a multiple of the smallest power
    /// of two >= its length (true of every range the RFC recursion produces), which is what
    /// makes its binary decomposition into perfect aligned subtrees valid.
    struct Span {
        var start: Int64
        var end: Int64
    }

    /// The largest power of two strictly less than `n` (n >= 2): RFC 9162's split point k.
    @inline(__always)
    static func split(_ n: Int64) -> Int64 {
        Int64(1) << Int64(63 - (n - 1).leadingZeroBitCount)
    }

    // MARK: Ranges (shared by node listing and proof assembly)

    /// PATH(m, D[0:n]) as ranges, in proof order (leaf side first).
    static func inclusionSpans(leaf m: Int64, size n: Int64) -> [Span] {
        precondition(n > 0 && m >= 0 && m < n, "inclusion proof needs 0 <= leaf < size (leaf \(m), size \(n))")
        var spans: [Span] = []
        var start: Int64 = 0, end = n
        while end - start > 1 {
            let k = split(end - start)
            if m - start < k {
                spans.append(Span(start: start + k, end: end))
                end = start + k
            } else {
                spans.append(Span(start: start, end: start + k))
                start += k
            }
        }
        spans.reverse()
        return spans
    }

    /// PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true) as ranges, in proof order.
    static func consistencySpans(from m: Int64, to n: Int64) -> [Span] {
        precondition(m >= 0 && m <= n, "consistency proof needs 0 <= from <= to (from \(m), to \(n))")
        guard m > 0 else { return [] }
        var spans: [Span] = []
        var start: Int64 = 0, end = n
        var wholeOldTreeIsKnown = true  // the RFC's flag b
        while true {
            if m == end {
                if !wholeOldTreeIsKnown { spans.append(Span(start: start, end: end)) }
                break
            }
            let k = split(end - start)
            if m - start <= k {
                spans.append(Span(start: start + k, end: end))
                end = start + k
            } else {
                spans.append(Span(start: start, end: start + k))
                start += k
                wholeOldTreeIsKnown = false
            }
        }
        spans.reverse()
        return spans
    }

    /// The perfect subtrees partitioning `span`, largest (leftmost) first.
    static func appendNodes(of span: Span, to out: inout [NodeID]) {
        var pos = span.start
        var remaining = span.end - span.start
        while remaining > 0 {
            let level = 63 - remaining.leadingZeroBitCount
            out.append(NodeID(level: level, index: pos >> Int64(level)))
            let width = Int64(1) << Int64(level)
            pos += width
            remaining -= width
        }
    }

    /// MTH of `span`, folding its perfect parts from the right as the MTH recursion does.
    static func hash(of span: Span, nodes: (NodeID) throws -> Hash) rethrows -> Hash {
        let length = span.end - span.start
        precondition(length > 0)
        let level = 63 - length.leadingZeroBitCount
        let node = try nodes(NodeID(level: level, index: span.start >> Int64(level)))
        let width = Int64(1) << Int64(level)
        if width == length { return node }
        return MerkleHash.node(node, try hash(of: Span(start: span.start + width, end: span.end), nodes: nodes))
    }

    static func nodes(of spans: [Span]) -> [NodeID] {
        var out: [NodeID] = []
        out.reserveCapacity(spans.count + 64)
        for span in spans { appendNodes(of: span, to: &out) }
        return out
    }

    // MARK: Public generation API

    /// The perfect subtrees whose hashes make up the root of a size-`n` tree (the frontier's
    /// right edge), largest first; empty for n == 0.
    public static func rootNodes(size n: Int64) -> [NodeID] {
        precondition(n >= 0, "negative tree size")
        guard n > 0 else { return [] }
        return nodes(of: [Span(start: 0, end: n)])
    }

    /// MTH of the first `n` leaves from stored perfect nodes (`MerkleHash.empty` for n == 0).
    public static func root(size n: Int64, nodes: (NodeID) throws -> Hash) rethrows -> Hash {
        precondition(n >= 0, "negative tree size")
        guard n > 0 else { return MerkleHash.empty }
        return try hash(of: Span(start: 0, end: n), nodes: nodes)
    }

    /// The perfect nodes `inclusionProof(leaf: m, size: n, nodes:)` will request.
    public static func inclusionNodes(leaf m: Int64, size n: Int64) -> [NodeID] {
        nodes(of: inclusionSpans(leaf: m, size: n))
    }

    /// RFC 9162 §2.1.3.1 PATH(m, D[n]), leaf side first.
    public static func inclusionProof(leaf m: Int64, size n: Int64, nodes: (NodeID) throws -> Hash) rethrows -> [Hash] {
        try inclusionSpans(leaf: m, size: n).map { try hash(of: $0, nodes: nodes) }
    }

    /// The perfect nodes `consistencyProof(from: m, to: n, nodes:)` will request.
    public static func consistencyNodes(from m: Int64, to n: Int64) -> [NodeID] {
        nodes(of: consistencySpans(from: m, to: n))
    }

    /// RFC 9162 §2.1.4.1 PROOF(m, D[n]); empty when m == n or m == 0.
    public static func consistencyProof(from m: Int64, to n: Int64, nodes: (NodeID) throws -> Hash) rethrows -> [Hash] {
        try consistencySpans(from: m, to: n).map { try hash(of: $0, nodes: nodes) }
    }

    // MARK: Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)

    /// Checks that `leaf` is entry `m` of the size-`n` tree with root `root`.
    public static func verifyInclusion(leaf: Hash, index m: Int64, size n: Int64, proof: [Hash], root: Hash) -> Bool {
        guard m >= 0, m < n else { return false }
        var fn = m
        var sn = n - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// Checks that the size-`m` tree with root `oldRoot` is a prefix of the size-`n` tree with
    /// root `newRoot`.
    ///
    /// The RFC algorithm covers 0 < m < n. Outside it: m == n is accepted only with an empty
    /// proof and equal roots; m == 0 is accepted only with an empty proof and
    /// `oldRoot == MerkleHash.empty` (every tree extends the empty tree, so nothing about
    /// `newRoot` can be checked); m > n or negative sizes are rejected.
    public static func verifyConsistency(from m: Int64, to n: Int64, proof: [Hash], oldRoot: Hash, newRoot: Hash) -> Bool {
        guard m >= 0, m <= n else { return false }
        if m == n { return proof.isEmpty && oldRoot == newRoot }
        if m == 0 { return proof.isEmpty && oldRoot == MerkleHash.empty }
        // Step 1: an empty path cannot prove anything for 0 < m < n.
        guard !proof.isEmpty else { return false }
        // Step 2: when m is a power of two the old root is itself a node of the new tree and
        // the proof omits it; logically prepend it (without copying the array).
        let oldIsPerfect = m & (m - 1) == 0
        var fn = m - 1
        var sn = n - 1
        // Step 4.
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        // Step 5.
        let first = oldIsPerfect ? oldRoot : proof[0]
        var fr = first
        var sr = first
        // Step 6.
        for c in proof[(oldIsPerfect ? 0 : 1)...] {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        // Step 7.
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}
