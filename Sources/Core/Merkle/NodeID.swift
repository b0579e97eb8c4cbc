/// Names a perfect, aligned subtree independently of tree size, so a stored node stays valid as the log grows.
///
/// `level` is the subtree height (0 = a single leaf); the subtree covers leaves
/// `index * 2^level ..< (index + 1) * 2^level`.
public struct NodeID: Hashable, Sendable, CustomStringConvertible {
    public var level: Int
    public var index: Int64

    public init(level: Int, index: Int64) {
        self.level = level
        self.index = index
    }

    /// The leaf indices this subtree covers.
    public var leafRange: Range<Int64> {
        let start = index << Int64(level)
        return start..<(start + (Int64(1) << Int64(level)))
    }

    public var description: String { "(\(level), \(index))" }
}
