import Foundation
import Logging
import Merkle
import PostgresClient
import Transparency

/// Submits the notary's checkpoints to witnesses (c2sp.org/tlog-witness) and stores their
/// cosignatures, off the notary's thread: one thread per witness, each with its own database
/// session, each request bounded by `requestTimeout`. `submit` only records the newest checkpoint
/// and wakes the threads, so a witness that is down or slow delays neither signing nor writes; a
/// witness that failed is tried again with the next checkpoint, or after `retryInterval`.
///
/// `@unchecked Sendable`: each lane's mutable state is touched only under its condition's lock.
public final class WitnessSubmitter: @unchecked Sendable {
    let conninfo: String
    let logger: Logger
    let requestTimeout: Double
    let retryInterval: Double
    private let lanes: [Lane]

    final class Lane: @unchecked Sendable {
        let witness: WitnessEndpoint
        let condition = NSCondition()
        var pending: Checkpoint?
        /// A checkpoint arrived since the last attempt (it is tried at once, whatever the retry time).
        var fresh = false
        var stopped = false
        let done = DispatchSemaphore(value: 0)
        init(_ witness: WitnessEndpoint) { self.witness = witness }
    }

    public init(conninfo: String, witnesses: [WitnessEndpoint], logger: Logger, requestTimeout: Double = 5, retryInterval: Double = 10) {
        self.conninfo = conninfo
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.retryInterval = retryInterval
        lanes = witnesses.map(Lane.init)
    }

    public func start() {
        for lane in lanes {
            let thread = Thread { [self] in run(lane) }
            thread.name = "consultd.witness"
            thread.start()
        }
    }

    /// Stops the threads, waiting for each at most until `deadline` (a request in flight ends by its timeout).
    public func stop(deadline: DispatchTime) {
        for lane in lanes {
            lane.condition.lock()
            lane.stopped = true
            lane.condition.signal()
            lane.condition.unlock()
        }
        for lane in lanes { _ = lane.done.wait(timeout: deadline) }
    }

    /// Hands a new C2SP checkpoint to every witness's thread; never blocks on the network.
    public func submit(_ checkpoint: Checkpoint) {
        guard checkpoint.origin != nil else { return }
        for lane in lanes {
            lane.condition.lock()
            if (lane.pending?.size ?? -1) < checkpoint.size {
                lane.pending = checkpoint
                lane.fresh = true
            }
            lane.condition.signal()
            lane.condition.unlock()
        }
    }

    private func run(_ lane: Lane) {
        defer { lane.done.signal() }
        var connection: Connection?
        /// The witness's size for this log as it last told us (nil: ask the database, then learn by 409).
        var known: Int64?
        var retryAt: Date?
        while true {
            lane.condition.lock()
            while !lane.stopped && (lane.pending == nil || (!lane.fresh && (retryAt.map { $0 > Date() } ?? false))) {
                if let retryAt, lane.pending != nil { _ = lane.condition.wait(until: retryAt) } else { lane.condition.wait() }
            }
            if lane.stopped { lane.condition.unlock(); connection?.close(); return }
            let checkpoint = lane.pending!
            lane.fresh = false
            lane.condition.unlock()
            do {
                if connection == nil { connection = try Connection(conninfo, options: .bounded(requestTimeout)) }
                try submit(checkpoint, to: lane.witness, store: TreeStore(connection: connection!), known: &known)
                retryAt = nil
                lane.condition.lock()
                if lane.pending?.size == checkpoint.size { lane.pending = nil }
                lane.condition.unlock()
            } catch {
                logger.warning(
                    "witness did not cosign; retrying with the next checkpoint",
                    metadata: ["witness": "\(lane.witness.key.name)", "size": "\(checkpoint.size)", "error": "\(error)"])
                if error is PostgresError { connection?.close(); connection = nil }
                known = nil
                retryAt = Date().addingTimeInterval(retryInterval)
            }
        }
    }

    /// One checkpoint to one witness: `old` from what we know of it, resent once from the size a
    /// 409 names. Throws when it was not cosigned (the caller retries later).
    func submit(_ checkpoint: Checkpoint, to witness: WitnessEndpoint, store: TreeStore, known: inout Int64?) throws {
        guard let note = checkpoint.note else { return }
        var old = try known ?? store.latestCosignedSize(witness.key) ?? 0
        if old == checkpoint.size,
           try store.cosignatures(size: checkpoint.size).contains(where: { $0.name == witness.key.name && $0.keyID == witness.key.keyID }) {
            known = old
            return  // cosigned already (a restart hands the latest checkpoint over again)
        }
        for _ in 0..<3 {
            if old > checkpoint.size { known = old; return }  // the witness has a newer one of ours already
            let proof = try store.consistencyProof(from: old, to: checkpoint.size)
            let body = "old \(old)\n" + proof.map { Base64.encode($0.bytes) + "\n" }.joined() + "\n" + note.serialized
            let answer = try HTTPClient.request(
                witness.url + "/add-checkpoint", method: "POST", body: Array(body.utf8), timeout: requestTimeout, maxBytes: 64 * 1024)
            let text = String(decoding: answer.body, as: UTF8.self)
            switch answer.status {
            case 200:
                var cosignature: NoteSignature?
                for line in text.split(separator: "\n") {
                    guard let signature = try? NoteSignature(line: line, number: 1), signature.name == witness.key.name,
                          signature.keyID == witness.key.keyID
                    else { continue }
                    cosignature = signature
                }
                guard let cosignature, witness.key.verifier.verify(text: Array(note.text.utf8), signature: cosignature.signature) else {
                    throw TrustError("the witness answered 200 without a valid cosignature by \(witness.key.name)")
                }
                try store.insert(cosignature: cosignature, size: checkpoint.size)
                known = checkpoint.size
                logger.debug("checkpoint cosigned", metadata: ["witness": "\(witness.key.name)", "size": "\(checkpoint.size)"])
                return
            case 409:
                guard let size = parseDecimal(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw TrustError("the witness answered 409 without its size")
                }
                old = size
            default:
                throw TrustError("the witness answered \(answer.status): \(text.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        throw TrustError("the witness kept answering 409")
    }
}
