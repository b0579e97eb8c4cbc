import Merkle
import Transparency
import XCTest

final class TileTests: XCTestCase {
    func testTilePathsAreEncodedAndParsedAsTheSpecWritesThem() {
        XCTAssertEqual(TileID.encode(index: 1_234_067), "x001/x234/067")
        XCTAssertEqual(TileID.encode(index: 0), "000")
        XCTAssertEqual(TileID.encode(index: 5), "005")
        XCTAssertEqual(TileID.encode(index: 1000), "x001/000")
        XCTAssertEqual(TileID(level: 0, index: 1_234_067).path, "tile/0/x001/x234/067")
        XCTAssertEqual(TileID(level: 2, index: 3, width: 17).path, "tile/2/003.p/17")
        for tile in [TileID(level: 0, index: 1_234_067), TileID(level: 2, index: 3, width: 17), TileID(level: 63, index: 999_999_999_999, width: 1)] {
            XCTAssertEqual(TileID(path: tile.path), tile)
        }
        for bad in ["tile/0/1234", "tile/0/x001/234.p/256", "tile/0/x001/234.p/0", "tile/0/x01/234", "tile/00/000", "tile/64/000",
                    "tile/0/001/234", "tile/0/x000", "tile/entries/000", "tile/0/000.p/010", "tile/0/", "tiles/0/000"] {
            XCTAssertNil(TileID(path: bad), bad)
        }
    }

    func testTheSpecsTreeOf70000HasTheTilesItLists() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of
        // width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2
        // tile of width 1."
        let tiles = TileID.all(size: 70_000)
        XCTAssertEqual(tiles.filter { $0.level == 0 && !$0.isPartial }.count, 273)
        XCTAssertEqual(tiles.filter { $0.level == 0 && $0.isPartial }, [TileID(level: 0, index: 273, width: 112)])
        XCTAssertEqual(tiles.filter { $0.level == 1 }, [TileID(level: 1, index: 0), TileID(level: 1, index: 1, width: 17)])
        XCTAssertEqual(tiles.filter { $0.level == 2 }, [TileID(level: 2, index: 0, width: 1)])
        XCTAssertEqual(tiles.count, 273 + 1 + 2 + 1)
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
        XCTAssertEqual(TileID.all(size: 256), [TileID(level: 0, index: 0), TileID(level: 1, index: 0, width: 1)])
        XCTAssertEqual(TileID.all(size: 0), [])
    }

    /// Builds a tree, serves the tiles of each size, and checks the tile client's roots and proofs
    /// against Merkle's own, computed from the stored nodes.
    func testTheTileClientsRootsAndProofsAreMerklesForManySizes() throws {
        var log = try TestLog(origin: "log.example/tiles")
        var sizes = Array(1...300).map(Int64.init)
        sizes += [511, 512, 513, 4095, 65535, 65536, 65537, 70000]
        var roots: [Int64: Hash] = [:]
        for size in sizes {
            log.append(Int(size - log.frontier.size))
            roots[size] = log.frontier.root
        }
        let nodes = log.nodes
        var generator = SystemRandomNumberGenerator()
        for size in sizes {
            let served = Tiles.all(size: size) { nodes[$0]! }
            let client = TileClient(size: size) { served[$0] }
            XCTAssertEqual(try client.root(), roots[size], "size \(size)")
            // A full tile is 8,192 bytes; a partial one 32 bytes a hash.
            XCTAssertTrue(served.allSatisfy { $0.key.contains(".p/") ? $0.value.count == 32 * Int($0.key.split(separator: "/").last!)! : $0.value.count == 8192 })
            var indexes: Set<Int64> = [0, size - 1, size / 2]
            for _ in 0..<3 { indexes.insert(Int64.random(in: 0..<size, using: &generator)) }
            for index in indexes {
                XCTAssertEqual(try client.inclusionProof(index: index), MerkleProofs.inclusionProof(leaf: index, size: size) { nodes[$0]! },
                               "inclusion of \(index) in \(size)")
                XCTAssertEqual(try client.leafHash(index: index), log.leaves[Int(index)])
            }
            var olds: Set<Int64> = [0, 1, size, size - 1, size / 2]
            for _ in 0..<3 { olds.insert(Int64.random(in: 0...size, using: &generator)) }
            for old in olds {
                let proof = try client.consistencyProof(from: old)
                XCTAssertEqual(proof, MerkleProofs.consistencyProof(from: old, to: size) { nodes[$0]! }, "consistency \(old) -> \(size)")
                if old > 0 {
                    XCTAssertTrue(MerkleProofs.verifyConsistency(from: old, to: size, proof: proof, oldRoot: roots[old] ?? MerkleProofs.root(size: old) { nodes[$0]! },
                                                                 newRoot: roots[size]!))
                }
            }
        }
    }

    func testTheTileClientRefusesBadTilesAndFallsBackToFullOnes() throws {
        var log = try TestLog(origin: "log.example/tiles2")
        log.append(600)
        let nodes = log.nodes
        // A tree of 300 whose partial tile 0/001.p/44 is gone, but the full tile of the grown log is there.
        var served: [String: [UInt8]] = [:]
        for tile in TileID.all(size: 300) + TileID.all(size: 600) { served[tile.path] = Tiles.data(of: tile) { nodes[$0]! } }
        served["tile/0/001.p/44"] = nil
        let client = TileClient(size: 300) { served[$0] }
        XCTAssertEqual(try client.root(), MerkleProofs.root(size: 300) { nodes[$0]! })
        XCTAssertTrue(client.fetched.contains("tile/0/001.p/44"))
        XCTAssertTrue(client.fetched.contains("tile/0/001"))
        // A tile of the wrong length.
        served["tile/0/000"] = Array(served["tile/0/000"]!.prefix(100))
        XCTAssertThrowsError(try TileClient(size: 300) { served[$0] }.inclusionProof(index: 3)) {
            XCTAssertEqual($0 as? TileError, .wrongLength(path: "tile/0/000", expected: 8192, found: 100))
        }
        // A missing tile.
        served["tile/0/000"] = nil
        XCTAssertThrowsError(try TileClient(size: 300) { served[$0] }.leafHash(index: 3)) {
            XCTAssertEqual($0 as? TileError, .missing(path: "tile/0/000"))
        }
        XCTAssertThrowsError(try TileClient(size: 300) { served[$0] }.inclusionProof(index: 300))
        XCTAssertThrowsError(try TileClient(size: 300) { served[$0] }.consistencyProof(from: 301))
    }

    func testHugeIndexesAreOutOfRangeNotATrap() throws {
        // Node indexes whose leaf ranges do not fit an Int64: refused before any range is computed.
        let huge = TileClient(size: Int64.max) { _ in nil }
        for id in [NodeID(level: 0, index: Int64.max), NodeID(level: 1, index: Int64.max), NodeID(level: 62, index: Int64.max),
                   NodeID(level: 62, index: 2), NodeID(level: 8, index: Int64.max >> 7), NodeID(level: 0, index: -1), NodeID(level: 63, index: 0)] {
            XCTAssertThrowsError(try huge.node(id), "\(id)") {
                guard case .outOfRange = $0 as? TileError else { return XCTFail("\(id): \($0)") }
            }
        }
        let small = TileClient(size: 300) { _ in nil }
        XCTAssertThrowsError(try small.leafHash(index: Int64.max))
        XCTAssertThrowsError(try small.node(NodeID(level: 8, index: 1)))
        XCTAssertThrowsError(try small.inclusionProof(index: Int64.max))
        // The last leaf of the largest tree is inside it (its tile is fetched, and found missing).
        XCTAssertThrowsError(try huge.leafHash(index: Int64.max - 1)) {
            XCTAssertEqual($0 as? TileError, .missing(path: TileID(level: 0, index: TileID.maxIndex, width: 255).path))
        }
        // No tile's hash indexes overflow: a path with a larger index is not a tile, and the
        // largest tile's bytes can be made.
        XCTAssertEqual(TileID.maxIndex * 256 + 255, Int64.max)
        XCTAssertNil(TileID(path: "tile/0/" + TileID.encode(index: Int64.max)))
        XCTAssertNil(TileID(path: "tile/3/" + TileID.encode(index: TileID.maxIndex + 1) + ".p/7"))
        let last = try XCTUnwrap(TileID(path: "tile/0/" + TileID.encode(index: TileID.maxIndex)))
        var indexes: [Int64] = []
        XCTAssertEqual(Tiles.data(of: last) { indexes.append($0.index); return MerkleHash.empty }.count, 256 * 32)
        XCTAssertEqual(indexes.last, Int64.max)
        for (level, index) in [(0, Int64.max), (0, TileID.maxIndex + 1), (0, -1), (64, 0), (-1, 0), (7, Int64.max)] {
            XCTAssertNil(TileID.forTree(size: Int64.max, level: level, index: index), "\(level)/\(index)")
        }
        XCTAssertEqual(TileID.forTree(size: Int64.max, level: 0, index: TileID.maxIndex), TileID(level: 0, index: TileID.maxIndex, width: 255))
    }
}
