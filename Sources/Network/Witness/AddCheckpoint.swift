import Crypto
import HTTPServer
import Merkle
import Transparency

/// An HTTP answer, as the witness's server writes it.
public typealias WitnessResponse = HTTPResponse

/// What the witness keeps for one log: the latest checkpoint it cosigned.
public struct LogRecord: Codable, Equatable, Sendable {
    public var size: Int64
    /// The root hash, base64.
    public var root: String
    /// The cosigned checkpoint as a note: its text, the log's signatures the witness verified, and
    /// the witness's cosignature (served to monitors).
    public var checkpoint: String
    /// The cosignature's timestamp (POSIX seconds).
    public var cosignedAt: UInt64

    public init(size: Int64, root: String, checkpoint: String, cosignedAt: UInt64) {
        self.size = size
        self.root = root
        self.checkpoint = checkpoint
        self.cosignedAt = cosignedAt
    }

    enum CodingKeys: String, CodingKey {
        case size, root, checkpoint
        case cosignedAt = "cosigned_at"
    }
}

/// The witness's whole state: one record per log origin it has cosigned for.
public struct WitnessState: Codable, Equatable, Sendable {
    public static let currentFormat = "consultd-witness-state-v1"
    public var format: String
    public var logs: [String: LogRecord]

    public init(logs: [String: LogRecord] = [:]) {
        self.format = WitnessState.currentFormat
        self.logs = logs
    }
}

/// A parsed add-checkpoint body.
public struct AddCheckpointRequest: Sendable, Equatable {
    public var oldSize: Int64
    public var proof: [Hash]
    public var note: SignedNote
    public var checkpoint: Checkpoint

    /// The most consistency proof lines a client may send (tlog-witness).
    public static let maxProofLines = 63

    /// Parses `old <size>\n`, up to 63 base64 hash lines, an empty line, and a checkpoint note;
    /// the error says what is wrong (the witness answers it with 400).
    public init(body: [UInt8]) throws(RequestError) {
        var start = 0
        func line() throws(RequestError) -> Substring {
            guard let end = body[start...].firstIndex(of: 0x0A) else { throw RequestError("the body ends inside a line (every line ends in a newline)") }
            defer { start = end + 1 }
            guard let text = String(validating: body[start..<end], as: UTF8.self) else { throw RequestError("the body is not UTF-8") }
            return Substring(text)
        }
        let first = try line()
        guard first.hasPrefix("old "), let old = Transparency.parseDecimal(first.dropFirst(4)) else {
            throw RequestError("the first line is not `old <size>` (a decimal without leading zeroes)")
        }
        var proof: [Hash] = []
        while true {
            let next = try line()
            if next.isEmpty { break }
            guard proof.count < AddCheckpointRequest.maxProofLines else { throw RequestError("more than 63 consistency proof lines") }
            guard let bytes = Base64.decode(next), bytes.count == 32 else {
                throw RequestError("consistency proof line \(proof.count + 1) is not the base64 of a 32-byte hash")
            }
            proof.append(Hash(bytes: bytes))
        }
        let note: SignedNote
        do { note = try SignedNote(parsing: Array(body[start...])) } catch { throw RequestError("the checkpoint: \(error)") }
        do { checkpoint = try Checkpoint(text: note.text) } catch { throw RequestError("the checkpoint: \(error)") }
        self.oldSize = old
        self.proof = proof
        self.note = note
    }

    /// The body a client sends.
    public static func body(oldSize: Int64, proof: [Hash], note: SignedNote) -> [UInt8] {
        Array(("old \(oldSize)\n" + proof.map { Base64.encode($0.bytes) + "\n" }.joined() + "\n" + note.serialized).utf8)
    }
}

/// Why a request body was refused.
public struct RequestError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The tlog-witness add-checkpoint decision, as pure code: given the logs the witness trusts (by
/// origin), the record it holds for the request's origin, its cosigner and the time, the answer
/// and the record to store (nil: store nothing). The caller looks the record up and stores the new
/// one as one step under its lock, and persists it before it answers.
public enum AddCheckpoint {
    public struct Decision: Sendable {
        public var response: WitnessResponse
        /// The request's origin, once known (for logs).
        public var origin: String?
        /// The record to persist before answering; nil when nothing changes.
        public var newRecord: LogRecord?
        /// One line for the witness's log: what was decided (never a key).
        public var summary: String
        /// A checkpoint validly signed by the log with the size of the one the witness cosigned and
        /// another root hash: proof of a fork by the log, kept in the witness's log. Set only then:
        /// an older checkpoint the log did sign proves nothing (anyone can replay it), nor does a
        /// consistency proof that fails to verify (the proof is the client's input, signed by nobody).
        public var evidence: SignedNote? = nil
    }

    public static func decide(
        body: [UInt8], logs: [String: [VerifierKey]], record: (String) -> LogRecord?, cosigner: Cosigner, now: UInt64
    ) -> Decision {
        let request: AddCheckpointRequest
        do {
            request = try AddCheckpointRequest(body: body)
        } catch {
            return Decision(response: WitnessResponse(status: 400, text: "malformed request: \(error)\n"), origin: nil, newRecord: nil, summary: "malformed: \(error)")
        }
        let checkpoint = request.checkpoint
        let origin = checkpoint.origin
        func refuse(_ status: Int, _ reason: String) -> Decision {
            Decision(response: WitnessResponse(status: status, text: reason + "\n"), origin: origin, newRecord: nil, summary: reason)
        }
        guard let keys = logs[origin] else {
            // An origin nobody configured is the client's text: logged shortened.
            let shown = origin.count > 80 ? String(origin.prefix(80)) + "…" : origin
            return Decision(response: WitnessResponse(status: 404, text: "unknown log origin\n"), origin: shown, newRecord: nil, summary: "unknown log origin")
        }
        let verified: Set<Int>
        do {
            verified = try request.note.verify(keys.map(\.verifier))
        } catch {
            return refuse(403, "the checkpoint is not signed by the log's key: \(error)")
        }
        guard request.oldSize <= checkpoint.size else {
            // Not evidence: an older checkpoint the log honestly signed can be replayed by anyone.
            return refuse(400, "old size \(request.oldSize) is larger than the checkpoint's size \(checkpoint.size)")
        }
        let stored = record(origin)
        let storedSize = stored?.size ?? 0
        guard request.oldSize == storedSize else {
            return Decision(
                response: WitnessResponse(status: 409, contentType: "text/x.tlog.size", body: Array("\(storedSize)\n".utf8)),
                origin: origin, newRecord: nil, summary: "old size \(request.oldSize) is not the witness's \(storedSize)")
        }
        if checkpoint.size == 0 && checkpoint.root != MerkleHash.empty {
            return refuse(422, "a checkpoint of size 0 must have the empty tree's root")
        }
        if request.oldSize == 0 {
            guard request.proof.isEmpty else { return refuse(422, "a consistency proof from size 0 must be empty") }
        } else {
            guard let storedRoot = stored.flatMap({ Base64.decode($0.root) }), storedRoot.count == 32 else {
                return refuse(500, "the witness's stored root for this log is unreadable")
            }
            let oldRoot = Hash(bytes: storedRoot)
            if request.oldSize == checkpoint.size {
                guard oldRoot == checkpoint.root else {
                    // Two roots for one size, both signed by the log: a fork, and the one refusal that proves it.
                    var decision = refuse(422, "same size \(checkpoint.size) as the cosigned checkpoint, different root hash")
                    decision.evidence = request.note
                    return decision
                }
                guard request.proof.isEmpty else { return refuse(422, "a consistency proof between equal sizes must be empty") }
            } else {
                guard MerkleProofs.verifyConsistency(
                    from: request.oldSize, to: checkpoint.size, proof: request.proof, oldRoot: oldRoot, newRoot: checkpoint.root)
                else {
                    // Not evidence: the proof is the client's input, so a bad one may be nobody's but the client's.
                    return refuse(422, "the consistency proof from size \(request.oldSize) to \(checkpoint.size) does not verify")
                }
            }
        }
        // Never earlier than the last cosignature for this log (a clock stepped back), never 0.
        let timestamp = max(now, stored?.cosignedAt ?? 0, 1)
        let cosignature: NoteSignature
        do {
            cosignature = try cosigner.cosign(checkpointText: request.note.text, timestamp: timestamp)
        } catch {
            return refuse(500, "cannot cosign")
        }
        // What monitors are served: the log's signatures that verified, and the cosignature.
        let logSignatures = request.note.signatures.filter { signature in
            verified.contains { keys[$0].name == signature.name && keys[$0].keyID == signature.keyID }
        }
        let kept = SignedNote(text: request.note.text, signatures: logSignatures + [cosignature])
        let newRecord = LogRecord(size: checkpoint.size, root: Base64.encode(checkpoint.root.bytes), checkpoint: kept.serialized, cosignedAt: timestamp)
        return Decision(
            response: WitnessResponse(status: 200, body: Array(cosignature.line.utf8)), origin: origin, newRecord: newRecord,
            summary: "cosigned size \(checkpoint.size) (from \(request.oldSize))")
    }

    /// The monitoring endpoint's answer for `<origin hash>/checkpoint` (the path after the prefix).
    public static func monitor(path: Substring, records: [String: LogRecord]) -> WitnessResponse {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1] == "checkpoint", parts[0].utf8.count == 64 else { return WitnessResponse(status: 404, text: "not found\n") }
        for (origin, record) in records where originHash(origin) == parts[0] {
            return WitnessResponse(status: 200, body: Array(record.checkpoint.utf8))
        }
        return WitnessResponse(status: 404, text: "no checkpoint cosigned for this log\n")
    }

    /// Lowercase hex SHA-256 of an origin (the monitoring path's key).
    public static func originHash(_ origin: String) -> String {
        SHA256.hash(data: Array(origin.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])"
        }.joined()
    }
}
