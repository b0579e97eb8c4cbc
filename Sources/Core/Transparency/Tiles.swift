import Merkle

/// One tile of c2sp.org/tlog-tiles: `level` L (0...63), `index` N, and `width` (256 when full, 1...255
/// for a partial tile). Its hashes are MTH(D[(N*256 + i) * 256^L ..< (N*256 + i + 1) * 256^L]) for i
/// in 0..<width: the perfect subtrees at Merkle height 8L with indexes N*256 + i.
public struct TileID: Hashable, Sendable, CustomStringConvertible {
    public static let fullWidth = 256
    /// Merkle levels per tile level.
    public static let height = 8

    public let level: Int
    public let index: Int64
    public let width: Int

    /// The largest tile index: a tile's hashes have indexes index*256 ..< index*256 + 256, which fit
    /// an Int64 up to this one (and no tree of at most 2^63 - 1 leaves has a tile beyond it).
    public static let maxIndex = Int64.max >> 8

    public init(level: Int, index: Int64, width: Int = TileID.fullWidth) {
        precondition((0...63).contains(level) && (0...TileID.maxIndex).contains(index) && (1...TileID.fullWidth).contains(width),
                     "not a tile: \(level)/\(index)/\(width)")
        self.level = level
        self.index = index
        self.width = width
    }

    public var isPartial: Bool { width < TileID.fullWidth }

    /// `tile/<L>/<N>[.p/<W>]`, with N in 3-digit path elements, all but the last starting with x.
    public var path: String {
        "tile/\(level)/\(TileID.encode(index: index))" + (isPartial ? ".p/\(width)" : "")
    }

    public var description: String { path }

    /// 1234067 -> `x001/x234/067`; 5 -> `005`.
    public static func encode(index: Int64) -> String {
        precondition(index >= 0)
        var groups: [String] = []
        var rest = index
        repeat {
            let group = String(rest % 1000)
            groups.append(String(repeating: "0", count: 3 - group.count) + group)
            rest /= 1000
        } while rest > 0
        return groups.reversed().enumerated().map { $0.offset == groups.count - 1 ? $0.element : "x" + $0.element }.joined(separator: "/")
    }

    /// Parses a tile path (as `path` writes it, strictly); nil for anything else, including entry
    /// bundles (`tile/entries/...`).
    public init?(path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "tile", let level = Decimal.parse(parts[1]), level <= 63 else { return nil }
        var width = TileID.fullWidth
        if parts.count >= 4, parts[parts.count - 2].hasSuffix(".p") {
            guard let w = Decimal.parse(parts[parts.count - 1]), (1...255).contains(w) else { return nil }
            width = Int(w)
            parts.removeLast()
            parts[parts.count - 1] = parts[parts.count - 1].dropLast(2)
        }
        let groups = parts.dropFirst(2)
        var index: Int64 = 0
        for (offset, group) in groups.enumerated() {
            let isLast = offset == groups.count - 1
            let digits = isLast ? group : (group.hasPrefix("x") ? group.dropFirst() : "")
            guard digits.utf8.count == 3, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int64(digits) else { return nil }
            let (times, overflow1) = index.multipliedReportingOverflow(by: 1000)
            let (sum, overflow2) = times.addingReportingOverflow(value)
            guard !overflow1, !overflow2 else { return nil }
            index = sum
        }
        guard index <= TileID.maxIndex else { return nil }
        self.init(level: Int(level), index: index, width: width)
        // One spelling per tile.
        guard self.path == path else { return nil }
    }

    /// The tile at (`level`, `index`) as a tree of `size` leaves has it: full, partial, or nil when
    /// that tree has no hashes in it.
    public static func forTree(size: Int64, level: Int, index: Int64) -> TileID? {
        guard size >= 0, (0...63).contains(level), (0...maxIndex).contains(index) else { return nil }
        let entries = size >> Int64(8 * level)  // complete hashes at this tile level
        let before = index * 256  // cannot overflow: index <= maxIndex
        guard entries > before else { return nil }
        return TileID(level: level, index: index, width: Int(min(Int64(fullWidth), entries - before)))
    }

    /// Every tile a tree of `size` leaves has (full tiles, then the partial one, level by level).
    public static func all(size: Int64) -> [TileID] {
        var out: [TileID] = []
        var level = 0
        while level <= 7, size >> Int64(8 * level) > 0 {
            let entries = size >> Int64(8 * level)
            for index in 0..<(entries / 256) { out.append(TileID(level: level, index: index)) }
            if entries % 256 > 0 { out.append(TileID(level: level, index: entries / 256, width: Int(entries % 256))) }
            level += 1
        }
        return out
    }
}

/// Making tiles from the tree's perfect nodes (as `Merkle` names and stores them).
public enum Tiles {
    /// The tile's bytes: its `width` hashes, concatenated.
    public static func data(of tile: TileID, nodes: (NodeID) throws -> Hash) rethrows -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(tile.width * 32)
        for i in 0..<Int64(tile.width) {
            // index <= TileID.maxIndex (the initializer checks it), so this cannot overflow.
            out += try nodes(NodeID(level: TileID.height * tile.level, index: tile.index * 256 + i)).bytes
        }
        return out
    }

    /// Every tile of a tree of `size` leaves with its bytes, keyed by its path: what a log serves
    /// under `<prefix>/` for that size.
    public static func all(size: Int64, nodes: (NodeID) throws -> Hash) rethrows -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for tile in TileID.all(size: size) { out[tile.path] = try data(of: tile, nodes: nodes) }
        return out
    }
}

/// Why the tile client could not answer.
public enum TileError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(path: String)
    case wrongLength(path: String, expected: Int, found: Int)
    case outOfRange(String)
    case fetchFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path): return "the log does not serve \(path)"
        case .wrongLength(let path, let expected, let found): return "\(path) is \(found) bytes, not \(expected)"
        case .outOfRange(let what): return what
        case .fetchFailed(let path, let reason): return "cannot fetch \(path): \(reason)"
        }
    }
}

/// A client computing the tree's hashes and proofs from tiles alone, for a tree of `size` leaves
/// (one the caller has a checkpoint for). Tiles are fetched through `fetch` (a path relative to the
/// log's prefix; nil when the log has no such resource) and kept for the client's lifetime. A
/// partial tile that is gone is looked for as the full tile. Nothing here is trusted: check
/// `root()` against the checkpoint, and the proofs with `MerkleProofs`.
public final class TileClient {
    public let size: Int64
    private let fetch: (String) throws -> [UInt8]?
    private var cache: [TileID: [Hash]] = [:]
    public private(set) var fetched: [String] = []

    public init(size: Int64, fetch: @escaping (String) throws -> [UInt8]?) {
        precondition(size >= 0)
        self.size = size
        self.fetch = fetch
    }

    /// The hash of a perfect subtree inside the tree.
    public func node(_ id: NodeID) throws(TileError) -> Hash {
        // (index + 1) * 2^level <= size, checked without computing either side (`leafRange` would
        // overflow for a large index): the node is inside the tree when index < size >> level.
        guard id.level >= 0, id.level < 63, id.index >= 0, id.index < size >> Int64(id.level) else {
            throw .outOfRange("node \(id) is not inside a tree of \(size) leaves")
        }
        let tileLevel = id.level / TileID.height
        let within = id.level % TileID.height
        let first = id.index << Int64(within)  // index of the first hash at the tile level
        let count = 1 << within
        guard let tile = TileID.forTree(size: size, level: tileLevel, index: first >> 8) else {
            throw .outOfRange("node \(id) has no tile in a tree of \(size) leaves")
        }
        let hashes = try load(tile)
        var row = Array(hashes[Int(first & 255)..<(Int(first & 255) + count)])
        while row.count > 1 {
            row = stride(from: 0, to: row.count, by: 2).map { MerkleHash.node(row[$0], row[$0 + 1]) }
        }
        return row[0]
    }

    /// The root of the tree.
    public func root() throws(TileError) -> Hash {
        try call { try MerkleProofs.root(size: size, nodes: { try self.node($0) }) }
    }

    /// RFC 9162 PATH(index, D[size]).
    public func inclusionProof(index: Int64) throws(TileError) -> [Hash] {
        guard index >= 0, index < size else { throw .outOfRange("index \(index) is not in a tree of \(size) leaves") }
        return try call { try MerkleProofs.inclusionProof(leaf: index, size: size, nodes: { try self.node($0) }) }
    }

    /// RFC 9162 PROOF(oldSize, D[size]).
    public func consistencyProof(from oldSize: Int64) throws(TileError) -> [Hash] {
        guard oldSize >= 0, oldSize <= size else { throw .outOfRange("size \(oldSize) is not within a tree of \(size) leaves") }
        return try call { try MerkleProofs.consistencyProof(from: oldSize, to: size, nodes: { try self.node($0) }) }
    }

    /// The leaf hash at `index` (from the level-0 tiles).
    public func leafHash(index: Int64) throws(TileError) -> Hash {
        try node(NodeID(level: 0, index: index))
    }

    private func call<R>(_ body: () throws -> R) throws(TileError) -> R {
        do { return try body() } catch let error as TileError { throw error } catch { throw .fetchFailed(path: "?", reason: "\(error)") }
    }

    private func load(_ tile: TileID) throws(TileError) -> [Hash] {
        if let hashes = cache[tile] { return hashes }
        var bytes = try get(tile.path)
        var servedWidth = tile.width
        if bytes == nil && tile.isPartial {
            bytes = try get(TileID(level: tile.level, index: tile.index).path)
            servedWidth = TileID.fullWidth
        }
        guard let bytes else { throw .missing(path: tile.path) }
        guard bytes.count == servedWidth * 32 else {
            throw .wrongLength(path: tile.path, expected: servedWidth * 32, found: bytes.count)
        }
        let hashes = (0..<tile.width).map { Hash(bytes: bytes[($0 * 32)..<($0 * 32 + 32)]) }
        cache[tile] = hashes
        return hashes
    }

    private func get(_ path: String) throws(TileError) -> [UInt8]? {
        fetched.append(path)
        do { return try fetch(path) } catch { throw .fetchFailed(path: path, reason: "\(error)") }
    }
}
