import EventRecords
import Foundation
import JSON
import Merkle

/// Proof that an event is in the log: the event as stored, its leaf hash, a signed checkpoint that
/// includes it, and the inclusion proof. Checked offline with the operator's public key alone.
public struct Receipt: Equatable, Sendable {
    public let event: RecordedEvent
    public let leafHash: Hash
    public let checkpoint: Checkpoint
    public let inclusionProof: [Hash]
    /// The same receipt as a c2sp.org/tlog-proof@v1 file, when its checkpoint is a C2SP one.
    public var tlogProof: String?
    /// How many of the configured witnesses cosigned the checkpoint (C2SP checkpoints only).
    public var cosignatures: Int?

    public init(event: RecordedEvent, leafHash: Hash, checkpoint: Checkpoint, inclusionProof: [Hash]) {
        self.event = event
        self.leafHash = leafHash
        self.checkpoint = checkpoint
        self.inclusionProof = inclusionProof
    }

    public var json: JSONValue {
        .object([
            ("receipt", .string("consultd-receipt-v1")),
            ("event", .object([
                ("position", .number(String(event.position))), ("event_id", .string(event.eventID.uuidString.lowercased())),
                ("stream", .string(event.stream)), ("version", .number(String(event.version))), ("type", .string(event.type)),
                ("data", .string(event.data)), ("metadata", .string(event.metadata)),
                ("recorded_at_us", .number(String(event.recordedAtMicroseconds))),
            ])),
            ("leaf_hash", .string(leafHash.hex)),
            ("checkpoint", checkpoint.json),
            ("inclusion_proof", .array(inclusionProof.map { .string($0.hex) })),
        ] + (tlogProof.map { [("tlog_proof", JSONValue.string($0))] } ?? [])
          + (cosignatures.map { [("cosignatures", JSONValue.number(String($0)))] } ?? []))
    }

    public init(json: JSONValue) throws {
        guard json["receipt"]?.stringValue == "consultd-receipt-v1" else { throw TrustError("not a consultd receipt (v1)") }
        guard let event = json["event"] else { throw TrustError("receipt.event: missing") }
        func text(_ name: String) throws -> String {
            guard let value = event[name]?.stringValue else { throw TrustError("receipt.event.\(name): a string") }
            return value
        }
        func integer(_ name: String) throws -> Int64 {
            guard case .number(let digits)? = event[name], let value = Int64(digits) else {
                throw TrustError("receipt.event.\(name): a whole number")
            }
            return value
        }
        guard let id = UUID(uuidString: try text("event_id")) else { throw TrustError("receipt.event.event_id: a UUID") }
        guard let leafText = json["leaf_hash"]?.stringValue, let leaf = Hash(hex: leafText) else {
            throw TrustError("receipt.leaf_hash: 64 hex digits")
        }
        guard case .array(let proof)? = json["inclusion_proof"] else { throw TrustError("receipt.inclusion_proof: a list") }
        guard let checkpoint = json["checkpoint"] else { throw TrustError("receipt.checkpoint: missing") }
        self.init(
            event: RecordedEvent(
                position: try integer("position"), eventID: id, stream: try text("stream"), version: try integer("version"),
                type: try text("type"), data: try text("data"), metadata: try text("metadata"),
                recordedAtMicroseconds: try integer("recorded_at_us"), idempotencyKey: nil),
            leafHash: leaf, checkpoint: try Checkpoint(json: checkpoint),
            inclusionProof: try proof.map { element in
                guard let text = element.stringValue, let hash = Hash(hex: text) else {
                    throw TrustError("receipt.inclusion_proof: 64 hex digits each")
                }
                return hash
            })
    }

    /// Each check a holder of the receipt can make offline, in order, with what it found.
    public func check(with key: PublicKey) -> [(check: String, passed: Bool)] {
        let recomputed = event.leafHash
        let included = MerkleProofs.verifyInclusion(
            leaf: recomputed, index: event.position - 1, size: checkpoint.size, proof: inclusionProof, root: checkpoint.root)
        return [
            ("the event's leaf hash is \(leafHash.hex)", recomputed == leafHash),
            ("the checkpoint was signed by key \(key.id)", checkpoint.isSigned(by: key)),
            ("the event at position \(event.position) is in the log of \(checkpoint.size) events with root \(checkpoint.root.hex)",
             event.position >= 1 && included),
        ]
    }
}
