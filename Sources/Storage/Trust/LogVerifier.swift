import Foundation
import Merkle
import PostgresClient
import Transparency

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
    /// For the readers that hash the log in parallel, each on a session of its own.
    let conninfo: String
    let readers: Int
    let chunk: Int64

    /// `readers` sessions hash the log in parallel, `chunk` positions at a time (a database prints
    /// jsonb at a few µs a row: one session alone would bound the check); `connection` answers the rest.
    public init(connection: Connection, conninfo: String, readers: Int = 2, chunk: Int64 = 65_536) {
        self.connection = connection
        self.conninfo = conninfo
        self.readers = max(1, readers)
        self.chunk = max(1, chunk)
    }

    /// How far recorded_at may go back as positions go forward: clocks of concurrent writers differ
    /// by a little (SPEC.md, "The log"), not more.
    static let timeSlackMicroseconds: Int64 = 1_000_000

    /// A check of each event made in the same pass: the
    /// name of the check, and a function that says what is wrong with a row, if anything.
    public typealias RowCheck = (name: String, problem: @Sendable (LeafRow) -> String?)

    /// Checks the log; `key` checks the checkpoints' signatures, `external` proves today's log extends
    /// it, `rowCheck` is made on every event in the same pass (its finding comes first). Events
    /// recorded in the last `recent` seconds may not be in the stored tree or a checkpoint yet (the
    /// notary follows the log); any older one must be, or the tree or the checkpoints were removed.
    ///
    /// `others` are more checkpoints kept elsewhere (a witness's latest cosigned one), each proved
    /// extended by today's log in the same pass, under its label; `witnesses` check every stored
    /// cosignature by one of them against its stored checkpoint.
    public func verify(
        key: PublicKey?, external: Checkpoint? = nil, externalLeaf: (position: Int64, hash: Hash)? = nil, rowCheck: RowCheck? = nil,
        recent: Double = 300, others: [(label: String, checkpoint: Checkpoint)] = [], witnesses: [VerifierKey] = []
    ) throws -> [Finding] {
        var findings: [Finding] = []
        let store = TreeStore(connection: connection)
        // The stored tree's size before the log's head: on a live database the notary may store
        // leaves for events appended while this runs, which must not look like events gone missing.
        let storedLeaves = try store.size()
        let checkpoints = try store.checkpoints()
        let head: Int64 = try connection.execute("SELECT coalesce(max(position), 0) AS head FROM consult.events").first!.get("head")
        var dueRoots = Set(checkpoints.map(\.size))
        if let external { dueRoots.insert(external.size) }
        for other in others { dueRoots.insert(other.checkpoint.size) }
        var roots: [Int64: Hash] = [:]
        // Nodes of the consistency proofs from the external checkpoints to today's log, kept as they complete.
        var consistency = Set<NodeID>()
        for checkpoint in ([external].compactMap { $0 } + others.map(\.checkpoint)) where checkpoint.size <= head {
            consistency.formUnion(MerkleProofs.consistencyNodes(from: checkpoint.size, to: head))
        }
        var kept: [NodeID: Hash] = [:]
        var frontier = MerkleFrontier()
        var firstChanged: Int64?
        var externalLeaves: [Int64: Hash] = [:]
        var gap: Int64?
        var firstProblem: (position: Int64, problem: String)?
        var firstUnhashed: Int64?
        var timeBack: Int64?
        var lastTime: Int64?
        let chunks = ChunkedLeaves(
            conninfo: conninfo, head: head, readers: readers, chunk: chunk, watch: externalLeaf?.position, rowCheck: rowCheck?.problem,
            storedLeaves: storedLeaves)
        defer { chunks.stop() }
        for chunk in chunks {
            let leaves = try chunk.get()
            for leaf in leaves.hashes {
                for (id, hash) in frontier.append(leaf) where consistency.contains(id) { kept[id] = hash }
                if dueRoots.contains(frontier.size) { roots[frontier.size] = frontier.root }
            }
            if firstChanged == nil { firstChanged = leaves.firstChanged }
            if firstUnhashed == nil { firstUnhashed = leaves.unhashed }
            if firstProblem == nil { firstProblem = leaves.problem }
            if let watched = leaves.watched { externalLeaves[watched.position] = watched.hash }
            if timeBack == nil, let last = lastTime, let first = leaves.firstTime, first < last - Self.timeSlackMicroseconds {
                timeBack = frontier.size - Int64(leaves.hashes.count) + 1
            }
            if timeBack == nil { timeBack = leaves.timeBack }
            lastTime = leaves.lastTime ?? lastTime
            if let missing = leaves.gap {
                gap = missing
                break
            }
        }
        let leaves = externalLeaves
        let size = frontier.size
        if let rowCheck {
            findings.append(Finding(
                check: rowCheck.name, passed: firstProblem == nil,
                detail: firstProblem.map { "position \($0.position): \($0.problem)" } ?? "\(size) events"))
        }
        findings.append(Finding(
            check: "positions run 1, 2, 3, … without a gap", passed: gap == nil,
            detail: gap.map { "position \($0) is missing" } ?? "\(size) events, last position \(size)"))
        findings.append(Finding(
            check: "recorded_at never goes back more than a second as positions go forward", passed: timeBack == nil,
            detail: timeBack.map { "position \($0) is recorded earlier than the one before" } ?? "\(size) events"))
        let changed = [firstChanged, firstUnhashed].compactMap { $0 }.min()
        let compared = min(size, storedLeaves)
        findings.append(Finding(
            check: "every event matches its leaf in the stored tree", passed: changed == nil,
            detail: changed.map { position in
                position == firstChanged
                    ? "position \(position): the event differs from the leaf hashed when it was written"
                    : "position \(position): its leaf is missing from the stored tree, which covers \(storedLeaves) events"
            } ?? "\(compared) events compared with \(compared) stored leaves\(size > compared ? "; \(size - compared) events not in the tree yet" : "")"))
        // A tree or checkpoints that stop short of the log, for events older than `recent`: removed
        // (after an edit, to hide it) or never kept. Either way nothing vouches for those events.
        let covered = try uncovered(after: storedLeaves, head: size, recent: recent)
        findings.append(Finding(
            check: "the stored tree covers every event older than \(Int(recent)) s", passed: covered == nil,
            detail: covered.map { "positions \(storedLeaves + 1)…\(size) are not in the stored tree; position \($0.position) was recorded \($0.age) s ago" }
                ?? "\(storedLeaves) leaves stored, \(size) events"))
        let signed = checkpoints.map(\.size).max() ?? 0
        let unsigned = try uncovered(after: signed, head: size, recent: recent)
        findings.append(Finding(
            check: "signed checkpoints cover every event older than \(Int(recent)) s", passed: unsigned == nil,
            detail: unsigned.map {
                "no checkpoint covers positions \(signed + 1)…\(size) (\($0.age) s old)"
                    + (checkpoints.isEmpty ? ": no checkpoint is stored (removed, or consultd runs without a signing key)" : "")
            } ?? "the latest of \(checkpoints.count) checkpoints covers \(signed) of \(size) events"))
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
        for other in others {
            findings.append(contentsOf: extends(
                other.checkpoint, key: key, size: size, roots: roots, kept: kept, leaves: leaves, externalLeaf: nil, frontier: frontier,
                label: other.label))
        }
        if !witnesses.isEmpty {
            var checked = 0
            var bad: [String] = []
            for checkpoint in checkpoints {
                guard let note = checkpoint.note else { continue }
                for signature in try store.cosignatures(size: checkpoint.size) {
                    guard let witness = witnesses.first(where: { $0.name == signature.name && $0.keyID == signature.keyID }) else { continue }
                    checked += 1
                    if !witness.verifier.verify(text: Array(note.text.utf8), signature: signature.signature) {
                        bad.append("\(witness.name) at size \(checkpoint.size)")
                    }
                }
            }
            findings.append(Finding(
                check: "every stored cosignature by the given witnesses verifies on its stored checkpoint", passed: bad.isEmpty,
                detail: bad.isEmpty ? "\(checked) cosignatures" : "the stored checkpoint is not the one cosigned: \(bad.prefix(3).joined(separator: ", "))"))
        }
        return findings
    }

    /// The first event after `position` (up to `head`), with its age in whole seconds by the
    /// database's clock, when it is older than `recent`; nil when there is none or it is recent.
    private func uncovered(after position: Int64, head: Int64, recent: Double) throws -> (position: Int64, age: Int64)? {
        guard position < head else { return nil }
        let row = try connection.execute(
            "SELECT floor(extract(epoch FROM now() - recorded_at))::bigint AS age FROM consult.events WHERE position = $1", [position + 1]
        ).first
        guard let age: Int64 = try row?.get("age"), Double(age) > recent else { return nil }
        return (position + 1, age)
    }

    /// Whether today's log (of `size` events) extends `external`, by consistency proof.
    private func extends(
        _ external: Checkpoint, key: PublicKey?, size: Int64, roots: [Int64: Hash], kept: [NodeID: Hash], leaves: [Int64: Hash],
        externalLeaf: (position: Int64, hash: Hash)?, frontier: MerkleFrontier, label: String = "the given checkpoint"
    ) -> [Finding] {
        var findings: [Finding] = []
        if let key {
            findings.append(Finding(
                check: "\(label) is signed by key \(key.id)", passed: external.isSigned(by: key),
                detail: "size \(external.size), root \(external.root.hex)"))
        }
        let check = "today's log extends \(label) (size \(external.size))"
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

/// The log's leaves in position order, hashed by a few reader threads in chunks (each on a session
/// of its own) and handed out in order; at most a few chunks are held at once.
final class ChunkedLeaves: Sequence, @unchecked Sendable {
    // `@unchecked Sendable`: every mutable field is read and written under `condition`.
    struct Chunk: Sendable {
        /// Leaves of positions start, start + 1, … up to the first gap (if any).
        var hashes: [Hash] = []
        var firstChanged: Int64?
        var gap: Int64?
        var watched: (position: Int64, hash: Hash)?
        var problem: (position: Int64, problem: String)?
        /// The first position within the stored tree's size whose leaf the tree lacks.
        var unhashed: Int64?
        /// recorded_at of the chunk's first and last events, and the first event recorded more than
        /// the slack before the one before it.
        var firstTime: Int64?
        var lastTime: Int64?
        var timeBack: Int64?
    }

    private let size: Int64
    private let condition = NSCondition()
    private var results: [Int: Result<Chunk, Error>] = [:]
    private var taken = 0
    private var consumed = 0
    private var stopped = false
    private let count: Int

    init(
        conninfo: String, head: Int64, readers: Int, chunk: Int64, watch: Int64?, rowCheck: (@Sendable (LeafRow) -> String?)?,
        storedLeaves: Int64
    ) {
        size = chunk
        count = Int((head + chunk - 1) / chunk)
        for _ in 0..<Swift.min(readers, Swift.max(count, 1)) {
            Thread { [self] in read(conninfo: conninfo, head: head, watch: watch, rowCheck: rowCheck, storedLeaves: storedLeaves) }.start()
        }
    }

    /// Lets the readers go (they hold the sequence until they end).
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func read(conninfo: String, head: Int64, watch: Int64?, rowCheck: (@Sendable (LeafRow) -> String?)?, storedLeaves: Int64) {
        var connection: Connection?
        while true {
            condition.lock()
            // Bounded memory: a reader runs at most a few chunks ahead of the consumer.
            while !stopped && taken < count && taken >= consumed + 4 { condition.wait() }
            guard !stopped, taken < count else {
                condition.unlock()
                return
            }
            let index = taken
            taken += 1
            condition.unlock()
            let result = Result<Chunk, Error> {
                if connection == nil { connection = try Connection(conninfo) }
                return try Self.hash(connection!, from: Int64(index) * size + 1, through: Swift.min(head, Int64(index + 1) * size), watch: watch, rowCheck: rowCheck,
                    storedLeaves: storedLeaves)
            }
            condition.lock()
            results[index] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    private static func hash(
        _ connection: Connection, from first: Int64, through last: Int64, watch: Int64?, rowCheck: (@Sendable (LeafRow) -> String?)?,
        storedLeaves: Int64
    ) throws -> Chunk {
        var chunk = Chunk()
        // The stored tree's leaves for these positions first (32 bytes each), then the events beside them.
        var stored = [Hash?](repeating: nil, count: Int(last - first + 1))
        try connection.copyOut(
            """
            COPY (SELECT index, hash FROM consult.merkle_nodes WHERE level = 0 AND index BETWEEN \(first - 1) AND \(last - 1))
              TO STDOUT (FORMAT binary)
            """
        ) { row in
            let hash = try row.bytes(1)
            guard hash.count == Hash.byteCount else { throw TrustError("a stored leaf is not \(Hash.byteCount) bytes") }
            stored[Int(try row.int64(0) - (first - 1))] = Hash(bytes: hash)
        }
        chunk.hashes.reserveCapacity(stored.count)
        var expected = first
        var previousTime: Int64?
        try LeafRow.copy(connection, from: first, through: last) { row in
            guard chunk.gap == nil else { return }
            guard row.position == expected else {
                chunk.gap = expected
                return
            }
            let leaf = row.leafHash
            if let stored = stored[Int(row.position - first)] {
                if chunk.firstChanged == nil && stored != leaf { chunk.firstChanged = row.position }
            } else if chunk.unhashed == nil && row.position <= storedLeaves {
                chunk.unhashed = row.position  // a leaf deleted from the tree would hide a change to its event
            }
            if watch == row.position { chunk.watched = (row.position, leaf) }
            if chunk.problem == nil, let problem = rowCheck?(row) { chunk.problem = (row.position, problem) }
            let time = row.recordedAtMicroseconds
            if chunk.firstTime == nil { chunk.firstTime = time }
            if chunk.timeBack == nil, let previousTime, time < previousTime - LogVerifier.timeSlackMicroseconds {
                chunk.timeBack = row.position
            }
            previousTime = time
            chunk.lastTime = time
            chunk.hashes.append(leaf)
            expected += 1
        }
        if chunk.gap == nil && expected <= last { chunk.gap = expected }
        return chunk
    }

    func makeIterator() -> AnyIterator<Result<Chunk, Error>> {
        var next = 0
        return AnyIterator { [self] in
            guard next < count else { return nil }
            condition.lock()
            while results[next] == nil { condition.wait() }
            let result = results.removeValue(forKey: next)!
            consumed = next + 1
            condition.broadcast()
            condition.unlock()
            next += 1
            return result
        }
    }
}
