import Foundation
import Merkle
import PostgresClient

/// Recomputes the tree from the log itself and checks the stored tree and every checkpoint against
/// it, trusting nothing the database says but the events. Optionally proves that today's log extends
/// a checkpoint kept elsewhere (from a receipt or a report).
public struct LogVerifier {
    /// One finding, in the order found; `passed` false names what is wrong.
    public struct Finding: Equatable, Sendable {
        public let check: String
        public let passed: Bool
        public let detail: String
    }

    let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Checks the log; `key` checks the checkpoints' signatures, `external` proves today's log extends it.
    public func verify(key: PublicKey?, external: Checkpoint? = nil, externalLeaf: (position: Int64, hash: Hash)? = nil) throws -> [Finding] {
        var findings: [Finding] = []
        let store = TreeStore(connection: connection)
        let checkpoints = try store.checkpoints()
        let head: Int64 = try connection.execute("SELECT coalesce(max(position), 0) AS head FROM consult.events").first!.get("head")
        var dueRoots = Set(checkpoints.map(\.size))
        if let external { dueRoots.insert(external.size) }
        var roots: [Int64: Hash] = [:]
        // Nodes of the consistency proof from the external checkpoint to today's log, kept as they complete.
        let consistency = external.map { external in
            external.size <= head ? Set(MerkleProofs.consistencyNodes(from: external.size, to: head)) : []
        } ?? []
        var kept: [NodeID: Hash] = [:]
        var frontier = MerkleFrontier()
        var firstChanged: Int64?
        var leaves: [Int64: Hash] = [:]
        var gap: Int64?
        try connection.stream(
            """
            SELECT \(LeafEvent.columns), encode(n.hash, 'hex')
              FROM consult.events e LEFT JOIN consult.merkle_nodes n ON n.level = 0 AND n.index = e.position - 1
             ORDER BY e.position
            """
        ) { row in
            guard gap == nil else { return }
            let position = try row.int64(0)!
            guard position == frontier.size + 1 else {
                gap = frontier.size + 1
                return
            }
            let leaf = try LeafEvent.leafHash(row: row)
            if firstChanged == nil, let stored = row.string(8).flatMap(Hash.init(hex:)), stored != leaf { firstChanged = position }
            if externalLeaf?.position == position { leaves[position] = leaf }
            for (id, hash) in frontier.append(leaf) where consistency.contains(id) { kept[id] = hash }
            if dueRoots.contains(frontier.size) { roots[frontier.size] = frontier.root }
        }
        let size = frontier.size
        findings.append(Finding(
            check: "positions run 1, 2, 3, … without a gap", passed: gap == nil,
            detail: gap.map { "position \($0) is missing" } ?? "\(size) events"))
        findings.append(Finding(
            check: "every event matches its leaf in the stored tree", passed: firstChanged == nil,
            detail: firstChanged.map { "position \($0): the event differs from the leaf hashed when it was written" } ?? "\(size) leaves"))
        let storedLeaves = try store.size()
        findings.append(Finding(
            check: "the stored tree covers no event the log lacks", passed: storedLeaves <= size,
            detail: storedLeaves <= size ? "\(storedLeaves) leaves stored" : "the tree has \(storedLeaves) leaves: positions \(size + 1)…\(storedLeaves) are gone from the log"))
        var badRoots: [String] = []
        var badSignatures: [String] = []
        for checkpoint in checkpoints {
            if checkpoint.size > size {
                badRoots.append("size \(checkpoint.size): the log has \(size) events; position \(size + 1) is missing")
            } else if roots[checkpoint.size] != checkpoint.root {
                badRoots.append("size \(checkpoint.size): its root differs from the log's (first changed position \(firstChanged.map(String.init) ?? "unknown"))")
            }
            if let key, !checkpoint.isSigned(by: key) { badSignatures.append("size \(checkpoint.size)") }
        }
        findings.append(Finding(
            check: "every checkpoint's root is the root of the log at its size", passed: badRoots.isEmpty,
            detail: badRoots.first ?? "\(checkpoints.count) checkpoints"))
        if let key {
            findings.append(Finding(
                check: "every checkpoint is signed by key \(key.id)", passed: badSignatures.isEmpty,
                detail: badSignatures.isEmpty ? "\(checkpoints.count) signatures" : "not signed by this key: \(badSignatures.prefix(3).joined(separator: ", "))"))
        }
        if let external {
            findings.append(contentsOf: extends(external, key: key, size: size, roots: roots, kept: kept, leaves: leaves, externalLeaf: externalLeaf, frontier: frontier))
        }
        return findings
    }

    /// Whether today's log (of `size` events) extends `external`, by consistency proof.
    private func extends(
        _ external: Checkpoint, key: PublicKey?, size: Int64, roots: [Int64: Hash], kept: [NodeID: Hash], leaves: [Int64: Hash],
        externalLeaf: (position: Int64, hash: Hash)?, frontier: MerkleFrontier
    ) -> [Finding] {
        var findings: [Finding] = []
        if let key {
            findings.append(Finding(
                check: "the given checkpoint is signed by key \(key.id)", passed: external.isSigned(by: key),
                detail: "size \(external.size), root \(external.root.hex)"))
        }
        let check = "today's log extends the given checkpoint (size \(external.size))"
        guard external.size <= size else {
            return findings + [Finding(check: check, passed: false, detail: "the log has \(size) events; position \(size + 1) is missing")]
        }
        let proof = try? MerkleProofs.consistencyProof(from: external.size, to: size) { id in
            guard let hash = kept[id] else { throw TrustError("node \(id.level)/\(id.index) not kept") }
            return hash
        }
        let consistent = proof.map {
            MerkleProofs.verifyConsistency(from: external.size, to: size, proof: $0, oldRoot: external.root, newRoot: frontier.root)
        } ?? false
        if consistent {
            return findings + [Finding(check: check, passed: true, detail: "consistency proof of \(proof!.count) hashes to today's root \(frontier.root.hex)")]
        }
        var detail = "the log's root at size \(external.size) is \(roots[external.size]?.hex ?? "?"), not \(external.root.hex)"
        if let externalLeaf, let today = leaves[externalLeaf.position], today != externalLeaf.hash {
            detail = "position \(externalLeaf.position) differs: the receipt's event is not the log's"
        }
        return findings + [Finding(check: check, passed: false, detail: detail)]
    }
}
