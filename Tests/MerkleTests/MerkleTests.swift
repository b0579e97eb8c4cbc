import Foundation
import Merkle
import XCTest

final class MerkleTests: XCTestCase {
    static let maxSize = 70

    /// Distinct leaf inputs of varying length so no two leaf hashes coincide.
    static let leafHashes: [Hash] = (0..<maxSize).map { i in
        MerkleHash.leaf(Array("entry-\(i)-".utf8) + [UInt8](repeating: UInt8(i), count: i % 7))
    }

    /// Every perfect node the frontier reported while appending all leaves, plus the roots seen.
    struct Built {
        var nodes: [NodeID: Hash] = [:]
        var roots: [Hash] = []  // roots[n] = root after n appends
        var edges: [[Hash]] = []  // edges[n] = rightEdge after n appends
    }

    static let built: Built = {
        var b = Built()
        var f = MerkleFrontier()
        b.roots.append(f.root)
        b.edges.append(f.rightEdge)
        for leaf in leafHashes {
            for (id, h) in f.append(leaf) {
                precondition(b.nodes.updateValue(h, forKey: id) == nil, "node \(id) reported twice")
            }
            b.roots.append(f.root)
            b.edges.append(f.rightEdge)
        }
        return b
    }()

    func d(_ n: Int) -> ArraySlice<Hash> { Self.leafHashes[0..<n] }

    /// Reference PATH(m, D[n]) and PROOF(m, D[n]) for every 0 <= m <= n <= maxSize, computed once
    /// because the negative tests compare against many neighbouring sizes.
    static let refPaths: [[[Hash]]] = (0...maxSize).map { n in
        (0..<n).map { m in Reference.path(m, leafHashes[0..<n]) }
    }
    static let refProofs: [[[Hash]]] = (0...maxSize).map { n in
        (0...n).map { m in m == 0 ? [] : Reference.proof(m, leafHashes[0..<n]) }
    }

    /// A node provider over the stored nodes that fails the test on any request outside
    /// `allowed` or beyond the tree size, and records what it was asked for.
    final class Recorder {
        var requests: [NodeID] = []
    }

    func provider(allowed: [NodeID], size n: Int64, recorder: Recorder) -> (NodeID) -> Hash {
        let allowedSet = Set(allowed)
        return { id in
            recorder.requests.append(id)
            XCTAssertTrue(allowedSet.contains(id), "requested \(id) not listed for size \(n)")
            XCTAssertLessThanOrEqual(id.leafRange.upperBound, n, "requested \(id) beyond size \(n)")
            guard let h = Self.built.nodes[id] else {
                XCTFail("requested \(id) is not a perfect node")
                return MerkleHash.empty
            }
            return h
        }
    }

    func flipped(_ h: Hash, bit: Int) -> Hash {
        var bytes = h.bytes
        bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
        return Hash(bytes: bytes)
    }

    // MARK: Known answers

    func testEmptyRoot() {
        XCTAssertEqual(MerkleHash.empty.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(MerkleFrontier().root, MerkleHash.empty)
        XCTAssertEqual(MerkleProofs.root(size: 0, nodes: { _ in XCTFail("no nodes needed"); return MerkleHash.empty }),
                       MerkleHash.empty)
        XCTAssertEqual(MerkleProofs.rootNodes(size: 0), [])
    }

    /// The RFC 6962 / CT test-suite tree.
    func testCTVectors() {
        let inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ]
        var f = MerkleFrontier()
        var nodes: [NodeID: Hash] = [:]
        var leaves: [Hash] = []
        for (i, hexInput) in inputs.enumerated() {
            let bytes = stride(from: 0, to: hexInput.count, by: 2).map { off -> UInt8 in
                let s = hexInput.index(hexInput.startIndex, offsetBy: off)
                return UInt8(hexInput[s..<hexInput.index(s, offsetBy: 2)], radix: 16)!
            }
            let leaf = MerkleHash.leaf(bytes)
            XCTAssertEqual(leaf, MerkleHash.leaf(Data(bytes)), "Data and [UInt8] inputs hash alike")
            leaves.append(leaf)
            for (id, h) in f.append(leaf) { nodes[id] = h }
            XCTAssertEqual(f.root.hex, roots[i], "root of size \(i + 1)")
            XCTAssertEqual(MerkleProofs.root(size: Int64(i + 1), nodes: { nodes[$0]! }).hex, roots[i])
        }
        XCTAssertEqual(leaves[0].hex, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        // Audit path for leaf 0 of 8 from the CT test suite.
        let path = MerkleProofs.inclusionProof(leaf: 0, size: 8, nodes: { nodes[$0]! })
        XCTAssertEqual(path.map(\.hex), [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ])
    }

    func testHashCodec() {
        let h = MerkleHash.leaf([1, 2, 3])
        XCTAssertEqual(Hash(hex: h.hex), h)
        XCTAssertEqual(Hash(hex: h.hex.uppercased()), h)
        XCTAssertEqual(Hash(bytes: h.bytes), h)
        XCTAssertEqual(Hash(bytes: h.bytes[...]), h)
        XCTAssertEqual(h.bytes.count, 32)
        XCTAssertEqual(h.hex, h.bytes.map { String(format: "%02x", $0) }.joined())
        XCTAssertNil(Hash(hex: ""))
        XCTAssertNil(Hash(hex: String(h.hex.dropLast())))
        XCTAssertNil(Hash(hex: h.hex + "0"))
        XCTAssertNil(Hash(hex: "g" + h.hex.dropFirst()))
        XCTAssertNil(Hash(hex: "é" + h.hex.dropFirst(2)))
        XCTAssertNotEqual(MerkleHash.leaf([]), MerkleHash.empty, "leaf prefix matters")
        XCTAssertNotEqual(MerkleHash.node(h, MerkleHash.empty), MerkleHash.node(MerkleHash.empty, h))
    }

    // MARK: Frontier

    func testFrontierMatchesReferenceAndReportsAllPerfectNodes() {
        let b = Self.built
        for n in 0...Self.maxSize {
            XCTAssertEqual(b.roots[n], Reference.mth(d(n)), "root of size \(n)")
            XCTAssertEqual(b.edges[n].count, n.nonzeroBitCount)
            let edgeIDs = MerkleProofs.rootNodes(size: Int64(n))
            XCTAssertEqual(edgeIDs.map { b.nodes[$0]! }, b.edges[n], "right edge of size \(n) is rootNodes, largest first")
            XCTAssertEqual(MerkleProofs.root(size: Int64(n), nodes: { b.nodes[$0]! }), b.roots[n])
        }
        // Exactly the perfect aligned subtrees of the 70-leaf tree, each with the right hash.
        var expected = 0
        for level in 0..<7 {
            let width = 1 << level
            for index in 0..<(Self.maxSize / width) {
                expected += 1
                let id = NodeID(level: level, index: Int64(index))
                XCTAssertEqual(b.nodes[id], Reference.mth(Self.leafHashes[(index * width)..<((index + 1) * width)]), "\(id)")
            }
        }
        XCTAssertEqual(b.nodes.count, expected)
    }

    func testFrontierRestoreContinues() {
        let b = Self.built
        for n in 0...Self.maxSize {
            var f = MerkleFrontier(size: Int64(n), rightEdge: b.edges[n])
            XCTAssertEqual(f.size, Int64(n))
            XCTAssertEqual(f.root, b.roots[n])
            for i in n..<Self.maxSize {
                let completed = f.append(Self.leafHashes[i])
                XCTAssertEqual(completed.first?.0, NodeID(level: 0, index: Int64(i)))
                for (id, h) in completed { XCTAssertEqual(b.nodes[id], h) }
            }
            XCTAssertEqual(f.root, b.roots[Self.maxSize])
        }
    }

    // MARK: Inclusion

    func testInclusionAllSizes() {
        let b = Self.built
        var checked = 0
        for n in 1...Self.maxSize {
            let size = Int64(n)
            let root = b.roots[n]
            for m in 0..<n {
                let listed = MerkleProofs.inclusionNodes(leaf: Int64(m), size: size)
                let recorder = Recorder()
                let proof = MerkleProofs.inclusionProof(
                    leaf: Int64(m), size: size, nodes: provider(allowed: listed, size: size, recorder: recorder))
                XCTAssertEqual(recorder.requests, listed, "requests equal the listed nodes, once each, m=\(m) n=\(n)")
                XCTAssertEqual(Set(listed).count, listed.count)
                XCTAssertEqual(proof, Self.refPaths[n][m], "PATH(\(m), D[\(n)])")
                let leaf = Self.leafHashes[m]
                XCTAssertTrue(MerkleProofs.verifyInclusion(leaf: leaf, index: Int64(m), size: size, proof: proof, root: root))
                checked += 1

                func rejects(_ leaf: Hash, _ index: Int64, _ size: Int64, _ proof: [Hash], _ root: Hash,
                             _ what: String) {
                    XCTAssertFalse(MerkleProofs.verifyInclusion(leaf: leaf, index: index, size: size, proof: proof, root: root),
                                   "\(what): m=\(m) n=\(n)")
                }
                for i in proof.indices {
                    for bit in [0, 7, 100, 255] {
                        var bad = proof
                        bad[i] = flipped(bad[i], bit: bit)
                        rejects(leaf, Int64(m), size, bad, root, "flipped bit \(bit) of element \(i)")
                    }
                }
                rejects(flipped(leaf, bit: 3), Int64(m), size, proof, root, "wrong leaf")
                if n > 1 { rejects(Self.leafHashes[(m + 1) % n], Int64(m), size, proof, root, "other leaf") }
                for other in [-1, Int64(n), Int64(n) + 1, Int64.max] + (0..<Int64(n)).filter({ $0 != m }) {
                    rejects(leaf, other, size, proof, root, "wrong index \(other)")
                }
                for otherSize in 1...(Self.maxSize) where otherSize != n && otherSize > m {
                    // With that size's real root: never valid.
                    rejects(leaf, Int64(m), Int64(otherSize), proof, b.roots[otherSize], "wrong size \(otherSize)")
                    // With this root: valid only if the path shape is identical, so require rejection
                    // whenever the correct proof for that size has another length.
                    if Self.refPaths[otherSize][m].count != proof.count {
                        rejects(leaf, Int64(m), Int64(otherSize), proof, root, "wrong size \(otherSize), same root")
                    }
                }
                rejects(leaf, Int64(m), 0, proof, root, "size 0")
                rejects(leaf, Int64(m), -5, proof, root, "negative size")
                for otherRoot in [b.roots[n - 1], flipped(root, bit: 200), MerkleHash.empty] {
                    rejects(leaf, Int64(m), size, proof, otherRoot, "wrong root")
                }
                if !proof.isEmpty {
                    rejects(leaf, Int64(m), size, Array(proof.dropLast()), root, "truncated (last)")
                    rejects(leaf, Int64(m), size, Array(proof.dropFirst()), root, "truncated (first)")
                }
                rejects(leaf, Int64(m), size, proof + [root], root, "extended with root")
                rejects(leaf, Int64(m), size, proof + [Self.leafHashes[0]], root, "extended")
                rejects(leaf, Int64(m), size, [Self.leafHashes[0]] + proof, root, "prefixed")
                if proof.count >= 2 {
                    rejects(leaf, Int64(m), size, proof.reversed(), root, "reordered")
                }
            }
        }
        XCTAssertEqual(checked, Self.maxSize * (Self.maxSize + 1) / 2)
    }

    // MARK: Consistency

    func testConsistencyAllSizes() {
        let b = Self.built
        var checked = 0
        for n in 1...Self.maxSize {
            let size = Int64(n)
            let newRoot = b.roots[n]
            for m in 1...n {
                let listed = MerkleProofs.consistencyNodes(from: Int64(m), to: size)
                let recorder = Recorder()
                let proof = MerkleProofs.consistencyProof(
                    from: Int64(m), to: size, nodes: provider(allowed: listed, size: size, recorder: recorder))
                XCTAssertEqual(recorder.requests, listed, "requests equal the listed nodes, once each, m=\(m) n=\(n)")
                XCTAssertEqual(Set(listed).count, listed.count)
                XCTAssertEqual(proof, Self.refProofs[n][m], "PROOF(\(m), D[\(n)])")
                let oldRoot = b.roots[m]
                XCTAssertTrue(MerkleProofs.verifyConsistency(from: Int64(m), to: size, proof: proof,
                                                             oldRoot: oldRoot, newRoot: newRoot), "m=\(m) n=\(n)")
                checked += 1

                func rejects(_ from: Int64, _ to: Int64, _ proof: [Hash], _ old: Hash, _ new: Hash, _ what: String) {
                    XCTAssertFalse(MerkleProofs.verifyConsistency(from: from, to: to, proof: proof, oldRoot: old, newRoot: new),
                                   "\(what): m=\(m) n=\(n)")
                }
                for i in proof.indices {
                    for bit in [0, 7, 100, 255] {
                        var bad = proof
                        bad[i] = flipped(bad[i], bit: bit)
                        rejects(Int64(m), size, bad, oldRoot, newRoot, "flipped bit \(bit) of element \(i)")
                    }
                }
                rejects(Int64(m), size, proof, flipped(oldRoot, bit: 9), newRoot, "wrong old root")
                rejects(Int64(m), size, proof, oldRoot, flipped(newRoot, bit: 9), "wrong new root")
                if m != n { rejects(Int64(m), size, proof, newRoot, oldRoot, "roots swapped") }
                for otherM in 1...n where otherM != m && Self.refProofs[n][otherM] != proof {
                    rejects(Int64(otherM), size, proof, b.roots[otherM], newRoot, "wrong old size \(otherM)")
                    rejects(Int64(otherM), size, proof, oldRoot, newRoot, "wrong old size \(otherM), same root")
                }
                for otherN in m...Self.maxSize where otherN != n && Self.refProofs[otherN][m] != proof {
                    rejects(Int64(m), Int64(otherN), proof, oldRoot, b.roots[otherN], "wrong new size \(otherN)")
                }
                rejects(Int64(n) + 1, size, proof, oldRoot, newRoot, "from > to")
                rejects(-1, size, proof, oldRoot, newRoot, "negative from")
                if !proof.isEmpty {
                    rejects(Int64(m), size, Array(proof.dropLast()), oldRoot, newRoot, "truncated (last)")
                    rejects(Int64(m), size, Array(proof.dropFirst()), oldRoot, newRoot, "truncated (first)")
                }
                rejects(Int64(m), size, proof + [newRoot], oldRoot, newRoot, "extended with root")
                rejects(Int64(m), size, proof + [Self.leafHashes[0]], oldRoot, newRoot, "extended")
                rejects(Int64(m), size, [Self.leafHashes[0]] + proof, oldRoot, newRoot, "prefixed")
                if proof.count >= 2 {
                    rejects(Int64(m), size, proof.reversed(), oldRoot, newRoot, "reordered")
                }
            }
        }
        XCTAssertEqual(checked, Self.maxSize * (Self.maxSize + 1) / 2)
    }

    func testConsistencyEdgeCases() {
        let b = Self.built
        // m == n: empty proof, equal roots.
        XCTAssertEqual(MerkleProofs.consistencyProof(from: 5, to: 5, nodes: { _ in XCTFail(); return MerkleHash.empty }), [])
        XCTAssertTrue(MerkleProofs.verifyConsistency(from: 5, to: 5, proof: [], oldRoot: b.roots[5], newRoot: b.roots[5]))
        XCTAssertFalse(MerkleProofs.verifyConsistency(from: 5, to: 5, proof: [], oldRoot: b.roots[5], newRoot: b.roots[6]))
        // m == 0: the empty tree is a prefix of everything; only the old root is checkable.
        XCTAssertEqual(MerkleProofs.consistencyNodes(from: 0, to: 9), [])
        XCTAssertEqual(MerkleProofs.consistencyProof(from: 0, to: 9, nodes: { _ in XCTFail(); return MerkleHash.empty }), [])
        XCTAssertTrue(MerkleProofs.verifyConsistency(from: 0, to: 9, proof: [], oldRoot: MerkleHash.empty, newRoot: b.roots[9]))
        XCTAssertTrue(MerkleProofs.verifyConsistency(from: 0, to: 0, proof: [], oldRoot: MerkleHash.empty, newRoot: MerkleHash.empty))
        XCTAssertFalse(MerkleProofs.verifyConsistency(from: 0, to: 9, proof: [], oldRoot: b.roots[1], newRoot: b.roots[9]))
        XCTAssertFalse(MerkleProofs.verifyConsistency(from: 0, to: 9, proof: [b.roots[9]], oldRoot: MerkleHash.empty, newRoot: b.roots[9]))
        // 0 < m < n with an empty proof (RFC step 1).
        XCTAssertFalse(MerkleProofs.verifyConsistency(from: 4, to: 8, proof: [], oldRoot: b.roots[4], newRoot: b.roots[8]))
        XCTAssertFalse(MerkleProofs.verifyConsistency(from: 4, to: 8, proof: [], oldRoot: b.roots[4], newRoot: b.roots[4]))
    }

    // MARK: Node lists for large trees

    func testNodeListsArePerfectAlignedAndInRange() {
        let sizes: [Int64] = [1, 2, 3, 1 << 20, (1 << 20) + 1, (1 << 40) + 12345, (1 << 62) + 7, Int64.max]
        for n in sizes {
            let rootNodes = MerkleProofs.rootNodes(size: n)
            XCTAssertEqual(rootNodes.count, n.nonzeroBitCount)
            XCTAssertEqual(rootNodes.map { $0.leafRange.count }.reduce(0, +), Int(n), "root nodes partition 0..<n")
            var probes: [Int64] = [0, 1, n / 2, n - 2, n - 1].filter { $0 >= 0 && $0 < n }
            probes.append(contentsOf: probes.map { $0 + 1 }.filter { $0 <= n })
            for m in probes {
                var lists: [[NodeID]] = [MerkleProofs.consistencyNodes(from: m, to: n)]
                if m < n { lists.append(MerkleProofs.inclusionNodes(leaf: m, size: n)) }
                for list in lists {
                    XCTAssertLessThanOrEqual(list.count, 2 * 64)
                    XCTAssertEqual(Set(list).count, list.count)
                    for id in list {
                        XCTAssertTrue(id.level >= 0 && id.level < 63 && id.index >= 0, "\(id)")
                        XCTAssertLessThanOrEqual(id.leafRange.upperBound, n, "\(id) within size \(n)")
                    }
                }
            }
        }
    }
}
