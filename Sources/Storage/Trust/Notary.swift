import Foundation
import Logging
import Merkle
import PostgresClient

/// Keeps the Merkle tree over the log current and signs checkpoints of it.
///
/// - One notary at a time: like the projector, each daemon tries for a session lock and the holder
///   works; its session never reconnects silently, so losing it ends the leadership.
/// - It reads every event in position order, whoever wrote it (consultd, consultctl, a hand-made
///   INSERT), so every writer is covered. Positions are gap-free, so "after the tree's size" misses nothing.
/// - After the nodes of new events are stored, at most every `interval` seconds while the log grows, it
///   signs the tree's size, root and the last event's log time, and stores that checkpoint.
public final class Notary: Sendable {
    static let leaderLockKey: Int64 = 0x636F_6E73_6E6F_7461  // "consnota"
    /// Events hashed per round trip while catching up.
    static let page = 20_000
    /// The shortest time between two writes of the tree once caught up. Under load every commit
    /// notifies; reading at once each time made the tree's own commits (each one an fsync) as many
    /// as the log's. Receipts and proofs wait for the tree at most this much longer.
    static let pace = 0.1

    let conninfo: String
    let key: SigningKey?
    let interval: Double
    let logger: Logger
    let timeout: Double
    /// The log's origin: checkpoints are C2SP signed notes when it is set, else of the first form.
    let origin: String?
    /// Where new C2SP checkpoints go to be cosigned (nil: no witnesses).
    let witnesses: WitnessSubmitter?
    /// Whether every event read so far survives the loss of this database (its synchronous standby
    /// flushed it; `SynchronousStandby.waitUntilConfirmed`); nothing is signed until it does. nil:
    /// whatever is committed is signed.
    let confirmed: (@Sendable (Connection) throws -> Bool)?

    public init(
        conninfo: String, key: SigningKey?, interval: Double, logger: Logger, timeout: Double = 5, origin: String? = nil,
        witnesses: WitnessSubmitter? = nil, confirmed: (@Sendable (Connection) throws -> Bool)? = nil
    ) {
        self.origin = origin
        self.witnesses = witnesses
        self.conninfo = conninfo
        self.key = key
        self.interval = interval
        self.logger = logger
        self.timeout = timeout
        self.confirmed = confirmed
    }

    /// Works until `shouldStop` says so (checked at least every second).
    public func run(shouldStop: () -> Bool) {
        if key == nil { logger.warning("no --signing-key: the tree is kept, but no checkpoint is signed") }
        var backoff = 0.2
        while !shouldStop() {
            do {
                guard let leader = try Leadership.acquire(
                    conninfo, key: Self.leaderLockKey, timeout: timeout, shouldStop: shouldStop,
                    standby: { logger.info("notary standby: another consultd keeps the tree") })
                else { return }
                logger.info("notary: this consultd keeps the tree and signs checkpoints")
                try work(leader: leader, shouldStop: shouldStop)
                backoff = 0.2
            } catch {
                logger.warning("notary interrupted; retrying", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: backoff)  // backoff before reconnecting, not a synchronisation
                backoff = min(backoff * 2, 5)
            }
        }
    }

    private func work(leader: Connection, shouldStop: () -> Bool) throws {
        // Not re-opened silently: a new session may be on a promoted standby behind this frontier.
        let connection = try Connection(conninfo, options: .bounded(max(timeout, 60), reconnects: false))
        try connection.listen("consult_log")
        let store = TreeStore(connection: connection)
        var frontier = try Self.restore(store)
        let latest = try store.latestCheckpoint()
        var signed = latest?.size ?? 0
        if let latest { witnesses?.submit(latest) }  // cosignatures missed before a restart
        var lastSigned = Date.distantPast
        var lastTime: Int64?
        if frontier.size > 0 { lastTime = try store.event(at: frontier.size)?.recordedAtMicroseconds }
        var lastWrite = Date.distantPast
        while !shouldStop() {
            try connection.skipNotifications(until: lastWrite.addingTimeInterval(Self.pace), shouldStop: shouldStop)
            try leader.execute("SELECT 1")  // losing the leader session loses the lock: this throws
            var nodes: [(NodeID, Hash)] = []
            var read = 0
            try LeafRow.copy(connection, from: frontier.size + 1, through: .max, limit: Self.page) { row in
                guard row.position == frontier.size + 1 else {
                    throw TrustError("the log skips from position \(frontier.size) to \(row.position)")
                }
                nodes += frontier.append(row.leafHash)
                lastTime = row.recordedAtMicroseconds
                read += 1
            }
            try store.insert(nodes)
            if read == Self.page { continue }  // catch up before signing
            if read > 0 { lastWrite = Date() }
            if let key, frontier.size > signed, let lastTime {
                let due = lastSigned.addingTimeInterval(interval)
                if due.timeIntervalSinceNow <= 0 {
                    // A failover must never fork what was signed: sign only what the standby holds.
                    if let confirmed, try !confirmed(connection) {
                        logger.warning("checkpoint not signed: the synchronous standby has not confirmed the log's head yet")
                        _ = try connection.waitForNotifications(timeout: 1)
                        continue
                    }
                    let checkpoint = try Checkpoint.sign(size: frontier.size, root: frontier.root, logTimeMicroseconds: lastTime, with: key, origin: origin)
                    try store.insert(checkpoint)
                    witnesses?.submit(checkpoint)
                    signed = checkpoint.size
                    lastSigned = Date()
                    logger.debug("checkpoint signed", metadata: ["size": "\(checkpoint.size)", "root": "\(checkpoint.root.hex)"])
                    continue
                }
                _ = try connection.waitForNotifications(timeout: min(1, max(0.01, due.timeIntervalSinceNow)))
                continue
            }
            _ = try connection.waitForNotifications(timeout: 1)
        }
    }

    /// The tree as stored: its size, and the perfect subtrees along its right edge.
    static func restore(_ store: TreeStore) throws -> MerkleFrontier {
        let size = try store.size()
        let edge = MerkleProofs.rootNodes(size: size)
        let stored = try store.nodes(edge)
        return MerkleFrontier(size: size, rightEdge: edge.map { stored[$0]! })
    }
}
