import Crypto
import EventRecords
import Foundation
import Merkle
import PostgresClient
import Transparency

/// A witness consultd submits its checkpoints to: its verifier key (Ed25519 cosignature/v1, type
/// 0x04) and its submission prefix (`<url>/add-checkpoint`), as `--witness "VKEY URL"` gives them.
public struct WitnessEndpoint: Sendable {
    public let key: VerifierKey
    /// The prefix, without a trailing slash: `http://host:port[/path]`.
    public let url: String

    public init(key: VerifierKey, url: String) {
        self.key = key
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// `VKEY URL`, separated by white space.
    public init(parsing text: String) throws {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2 else { throw TrustError("--witness \"\(text.prefix(80))\": give the witness's vkey and its URL, separated by a space") }
        let key: VerifierKey
        do { key = try VerifierKey(parsing: String(parts[0])) } catch { throw TrustError("--witness: \(error)") }
        guard key.type == .cosignatureV1 else { throw TrustError("--witness: \(key.name)'s vkey is not a cosignature (type 0x04) key") }
        guard HTTPClient.parse(url: String(parts[1])) != nil else {
            throw TrustError("--witness: \(parts[1]) is not an http://host:port/prefix URL (https is not supported yet: put a TLS proxy on loopback)")
        }
        self.init(key: key, url: String(parts[1]))
    }

    /// Where the witness serves its latest cosigned checkpoint of a log: `<url>/<SHA-256 of the origin, hex>/checkpoint`.
    public func checkpointURL(origin: String) -> String {
        url + "/" + SHA256.hash(data: Array(origin.utf8)).map { String(format: "%02x", $0) }.joined() + "/checkpoint"
    }
}

/// Which cosignatures count: the configured witnesses' keys, and how many of them a checkpoint
/// needs before it is the one published (`GET /checkpoint`) and put in receipts.
public struct WitnessPolicy: Sendable {
    public let witnesses: [VerifierKey]
    public let quorum: Int

    public init(witnesses: [VerifierKey], quorum: Int) {
        self.witnesses = witnesses
        self.quorum = quorum
    }

    public static let none = WitnessPolicy(witnesses: [], quorum: 0)
}

/// The log's origin, kept in `consult.log_origin` (one row, set once).
public enum LogOrigin {
    /// The stored origin, if one was set.
    public static func stored(_ connection: Connection) throws -> String? {
        try connection.execute("SELECT origin FROM consult.log_origin").first.map { try $0.get("origin") }
    }

    /// The origin to sign with: the stored one, or `requested` stored now when none is. Throws (one
    /// line) when `requested` differs from the stored one, or is not a valid key name.
    public static func settle(_ connection: Connection, requested: String?) throws -> String? {
        if let requested, !KeyName.isValid(requested) {
            throw TrustError("--log-origin \"\(requested)\": an origin is non-empty, without spaces or + (e.g. consult.example.org/log)")
        }
        if let stored = try stored(connection) {
            if let requested, requested != stored {
                throw TrustError("--log-origin \(requested) differs from this log's origin \(stored), set once and stored with the log; an origin never changes")
            }
            return stored
        }
        guard let requested else { return nil }
        try connection.execute("INSERT INTO consult.log_origin (origin) VALUES ($1) ON CONFLICT DO NOTHING", [requested])
        let now = try stored(connection)
        guard now == requested else { throw TrustError("another consultd stored the origin \(now ?? "?") at the same time") }
        return requested
    }
}

extension TreeStore {
    /// The cosignatures stored for the checkpoint of `size`, as signature lines.
    public func cosignatures(size: Int64) throws -> [NoteSignature] {
        try connection.execute(
            """
            SELECT witness_name, key_id, cosigned_at, encode(signature, 'hex') AS signature
              FROM consult.cosignatures WHERE tree_size = $1 ORDER BY witness_name, key_id
            """, [size]
        ).rows.compactMap { row in
            guard let id = UInt32(try row.get("key_id", as: String.self), radix: 16), let signature = Hash.bytes(hex: try row.get("signature")) else {
                return nil
            }
            let time: Int64 = try row.get("cosigned_at")
            let timeBytes = (0..<8).map { UInt8(UInt64(time) >> (56 - 8 * UInt64($0)) & 0xff) }
            return NoteSignature(name: try row.get("witness_name"), keyID: id, signature: timeBytes + signature)
        }
    }

    /// Stores a witness's cosignature of the checkpoint of `size` (once; a second is ignored).
    public func insert(cosignature: NoteSignature, size: Int64) throws {
        guard let time = Cosignature.timestamp(of: cosignature.signature) else { throw TrustError("a cosignature is 72 bytes") }
        try connection.execute(
            """
            INSERT INTO consult.cosignatures (tree_size, witness_name, key_id, cosigned_at, signature)
            VALUES ($1, $2, $3, $4, decode($5, 'hex')) ON CONFLICT DO NOTHING
            """,
            [size, cosignature.name, KeyID.hex(cosignature.keyID), Int64(time), Array(cosignature.signature.suffix(64)).hex])
    }

    /// The largest checkpoint size `witness` cosigned, as stored.
    public func latestCosignedSize(_ witness: VerifierKey) throws -> Int64? {
        try connection.execute(
            "SELECT max(tree_size) AS size FROM consult.cosignatures WHERE witness_name = $1 AND key_id = $2",
            [witness.name, KeyID.hex(witness.keyID)]
        ).first?.optional("size", as: Int64.self)
    }

    /// A C2SP checkpoint's note with the log's signature and the cosignatures of `policy`'s
    /// witnesses that verify, and how many distinct witnesses those are.
    public func cosignedNote(_ checkpoint: Checkpoint, policy: WitnessPolicy) throws -> (note: SignedNote, cosignatures: Int)? {
        guard var note = checkpoint.note else { return nil }
        var counted = Set<String>()
        for signature in try cosignatures(size: checkpoint.size) {
            guard let witness = policy.witnesses.first(where: { $0.name == signature.name && $0.keyID == signature.keyID }),
                  witness.verifier.verify(text: Array(note.text.utf8), signature: signature.signature)
            else { continue }
            note.signatures.append(signature)
            counted.insert(witness.text)
        }
        return (note, counted.count)
    }

    /// The checkpoint a report as of `position` cites: of those covering it, the one the most
    /// witnesses cosigned, the smallest among equals (with no cosignatures anywhere: the first
    /// covering it, as before witnesses).
    public func reportCheckpoint(covering position: Int64) throws -> Checkpoint? {
        try connection.execute(
            """
            SELECT \(Self.checkpointColumns) FROM consult.checkpoints c WHERE c.tree_size >= $1
             ORDER BY (SELECT count(DISTINCT s.witness_name || '+' || s.key_id) FROM consult.cosignatures s
                        WHERE s.tree_size = c.tree_size) DESC, c.tree_size
             LIMIT 1
            """, [position]
        ).rows.first.map(Self.checkpoint)
    }

    /// A C2SP checkpoint's note with every stored cosignature (each verified by consultd when it
    /// arrived, against the witness key configured then), and how many distinct witnesses signed.
    public func storedCosignedNote(_ checkpoint: Checkpoint) throws -> (note: String, cosignatures: Int)? {
        guard var note = checkpoint.note else { return nil }
        let stored = try cosignatures(size: checkpoint.size)
        note.signatures += stored
        return (note.serialized, Set(stored.map { "\($0.name)+\($0.keyID)" }).count)
    }

    /// The checkpoint to publish and to put in receipts of `position`: the latest C2SP checkpoint
    /// covering it with cosignatures from at least `policy.quorum` of its witnesses, else the latest
    /// covering it (with fewer: the receipt says how many), else the latest of the first form.
    public func publishable(covering position: Int64 = 1, policy: WitnessPolicy) throws -> Checkpoint? {
        if policy.quorum > 0 {
            let names = policy.witnesses.map { "\($0.name)+\(KeyID.hex($0.keyID))" }
            if let row = try connection.execute(
                """
                SELECT \(Self.checkpointColumns) FROM consult.checkpoints c
                 WHERE c.origin IS NOT NULL AND c.tree_size >= $1
                   AND (SELECT count(DISTINCT s.witness_name || '+' || s.key_id) FROM consult.cosignatures s
                         WHERE s.tree_size = c.tree_size AND s.witness_name || '+' || s.key_id = ANY ($2::text[])) >= $3
                 ORDER BY c.tree_size DESC LIMIT 1
                """, [position, TextArray(names), Int64(policy.quorum)]
            ).rows.first {
                return try Self.checkpoint(row)
            }
        }
        guard let latest = try latestCheckpoint(), latest.size >= position else { return nil }
        return latest
    }

    /// The inclusion proof of the event at `position` in the tree of `checkpoint`.
    func inclusionProof(position: Int64, in checkpoint: Checkpoint) throws -> [Hash] {
        let stored = try nodes(MerkleProofs.inclusionNodes(leaf: position - 1, size: checkpoint.size))
        return try MerkleProofs.inclusionProof(leaf: position - 1, size: checkpoint.size) { id in
            guard let hash = stored[id] else { throw TrustError("the stored tree lacks node \(id.level)/\(id.index)") }
            return hash
        }
    }

    /// RFC 9162 PROOF(old, D[new]) from the stored tree.
    public func consistencyProof(from old: Int64, to new: Int64) throws -> [Hash] {
        guard old > 0, old < new else { return [] }
        let stored = try nodes(MerkleProofs.consistencyNodes(from: old, to: new))
        return try MerkleProofs.consistencyProof(from: old, to: new) { id in
            guard let hash = stored[id] else { throw TrustError("the stored tree lacks node \(id.level)/\(id.index)") }
            return hash
        }
    }

    /// The bytes of a hash tile (c2sp.org/tlog-tiles) of the tree of `size` leaves: nil when that
    /// tree has no such tile (a full tile it has not completed, or a partial one wider than its own).
    public func tile(_ tile: TileID, size: Int64) throws -> [UInt8]? {
        guard let available = TileID.forTree(size: size, level: tile.level, index: tile.index), available.width >= tile.width else { return nil }
        let ids = (0..<Int64(tile.width)).map { NodeID(level: TileID.height * tile.level, index: tile.index * 256 + $0) }
        let stored = try nodes(ids)
        return Tiles.data(of: tile) { stored[$0]! }
    }
}

extension Receipt {
    /// The receipt as a c2sp.org/tlog-proof@v1 file: `extra` is the event's leaf input (so the file
    /// is self-contained), the index is position − 1, and the checkpoint is `note` (the log's
    /// signature and the cosignatures it has).
    public func tlogProofFile(note: SignedNote) -> TlogProof {
        TlogProof(extra: event.leafInput, index: event.position - 1, inclusionProof: inclusionProof, note: note)
    }
}

/// What an offline check of a `.tlog-proof` receipt found.
public struct TlogProofCheck {
    public var lines: [(check: String, passed: Bool)] = []
    public var event: RecordedEvent?
    public var cosignatures = 0
    public var passed: Bool { !lines.isEmpty && lines.allSatisfy(\.passed) }

    /// Checks a tlog-proof receipt of consultd with the log's vkey, the witnesses' vkeys and a quorum.
    public static func check(_ text: String, logKey: VerifierKey, witnesses: [VerifierKey], quorum: Int) -> TlogProofCheck {
        var result = TlogProofCheck()
        let proof: TlogProof
        do { proof = try TlogProof(parsing: text) } catch {
            result.lines.append(("the file is a c2sp.org/tlog-proof@v1 (\(error))", false))
            return result
        }
        guard let extra = proof.extra, let event = RecordedEvent(leafInput: extra) else {
            result.lines.append(("the proof's extra holds the event's leaf input", false))
            return result
        }
        result.event = event
        result.lines.append(("the proof's extra is the leaf input of event \(event.eventID.uuidString.lowercased()) at position \(event.position)", true))
        result.lines.append(("the proof's index \(proof.index) is that position − 1", proof.index == event.position - 1))
        let checkpoint = try? proof.checkpoint()
        let logSigned = (try? proof.note.verify([logKey.verifier])) != nil && checkpoint?.origin == logKey.name
        result.lines.append(("the checkpoint of origin \(logKey.name) is signed by the log's key \(KeyID.hex(logKey.keyID))", logSigned))
        let cosigned = (try? proof.note.verifiedKeys(witnesses.map(\.verifier))) ?? []
        result.cosignatures = Set(cosigned.map { witnesses[$0].text }).count
        result.lines.append(("cosigned by \(result.cosignatures) of the \(witnesses.count) witnesses given (quorum \(quorum))", result.cosignatures >= quorum))
        if let checkpoint {
            let included = proof.index < checkpoint.size && MerkleProofs.verifyInclusion(
                leaf: MerkleHash.leaf(extra), index: proof.index, size: checkpoint.size, proof: proof.inclusionProof, root: checkpoint.root)
            result.lines.append(("the event is leaf \(proof.index) of the tree of \(checkpoint.size) with root \(checkpoint.root.hex)", included))
        } else {
            result.lines.append(("the note is a checkpoint", false))
        }
        return result
    }
}
