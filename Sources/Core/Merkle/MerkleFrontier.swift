/// The append-only tree's compact state (one hash per set bit of the size), so appends and roots need no lookups.
///
/// `rightEdge` holds the roots of the perfect subtrees that partition leaves `0..<size`,
/// ordered left to right, i.e. largest subtree first. Entry `i` corresponds to the
/// i-th node of `MerkleProofs.rootNodes(size: size)`, so the state can be rebuilt from
/// stored nodes with `MerkleFrontier(size: n, rightEdge: MerkleProofs.rootNodes(size: n).map(lookup))`.
public struct MerkleFrontier: Sendable {
    public private(set) var size: Int64
    public private(set) var rightEdge: [Hash]

    public init() {
        size = 0
        rightEdge = []
    }

    /// Restores a frontier; `rightEdge.count` must equal the number of set bits in `size`.
    public init(size: Int64, rightEdge: [Hash]) {
        precondition(size >= 0, "negative tree size")
        precondition(rightEdge.count == size.nonzeroBitCount,
                     "right edge of a size-\(size) tree has \(size.nonzeroBitCount) hashes, got \(rightEdge.count)")
        self.size = size
        self.rightEdge = rightEdge
    }

    /// Appends a leaf hash and returns every perfect subtree this append completed, from the
    /// leaf itself (level 0) upwards, so the caller can persist all perfect nodes.
    @discardableResult
    public mutating func append(_ leaf: Hash) -> [(NodeID, Hash)] {
        precondition(size < Int64.max, "tree is full")
        // Each trailing 1 bit of the old size is a same-height subtree the new one merges with.
        let merges = (~size).trailingZeroBitCount
        var completed: [(NodeID, Hash)] = []
        completed.reserveCapacity(merges + 1)
        var hash = leaf
        var index = size
        completed.append((NodeID(level: 0, index: index), hash))
        var level = 0
        while level < merges {
            hash = MerkleHash.node(rightEdge.removeLast(), hash)
            index >>= 1
            level += 1
            completed.append((NodeID(level: level, index: index), hash))
        }
        rightEdge.append(hash)
        size += 1
        return completed
    }

    /// The RFC 9162 MTH of the leaves appended so far (`MerkleHash.empty` when there are none).
    public var root: Hash {
        guard var acc = rightEdge.last else { return MerkleHash.empty }
        // MTH splits off the largest power of two on the left, so the smaller subtrees on
        // the right combine first.
        var i = rightEdge.count - 2
        while i >= 0 {
            acc = MerkleHash.node(rightEdge[i], acc)
            i -= 1
        }
        return acc
    }
}
