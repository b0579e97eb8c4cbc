import Foundation
import Merkle
import PostgresClient
import Transparency

/// What consultd's HTTP port serves to outsiders: `GET /checkpoint` (the published checkpoint, a C2SP
/// signed note with its cosignatures) and the tree's hash tiles, `GET /tile/<L>/<N>[.p/<W>]`
/// (c2sp.org/tlog-tiles), never entry bundles: events carry organisations' metadata, hashes do not.
///
/// Each answer is at most three short reads on one session of its own, each bounded by `timeout`
/// seconds (libpq's call timeout, the server's statement timeout a little less). A tile is served
/// only when the latest signed checkpoint's tree has it (full tiles, and partial tiles no wider than
/// that tree's), so nothing past a signed checkpoint is revealed.
///
/// `@unchecked Sendable`: the session is used only under `lock`.
public final class TilePublisher: @unchecked Sendable {
    /// One answer; `immutable` for tiles, which never change (cache them forever).
    public struct Answer: Sendable {
        public let status: Int
        public let contentType: String
        public let body: [UInt8]
        public let immutable: Bool
    }

    let conninfo: String
    let policy: WitnessPolicy
    let timeout: Double
    private let lock = NSLock()
    private var connection: Connection?

    public init(conninfo: String, policy: WitnessPolicy, timeout: Double = 1.5) {
        self.conninfo = conninfo
        self.policy = policy
        self.timeout = timeout
    }

    /// The answer for `path`, or nil when the path is not one of these.
    public func answer(path: String) -> Answer? {
        guard path == "/checkpoint" || path.hasPrefix("/tile/") else { return nil }
        lock.lock()
        defer { lock.unlock() }
        do {
            if connection == nil { connection = try Connection(conninfo, options: .bounded(timeout)) }
            let store = TreeStore(connection: connection!)
            guard let checkpoint = try store.publishable(policy: policy), let (note, _) = try store.cosignedNote(checkpoint, policy: policy) else {
                return Answer(status: 404, contentType: "text/plain; charset=utf-8", body: Array("no signed C2SP checkpoint yet\n".utf8), immutable: false)
            }
            if path == "/checkpoint" {
                return Answer(status: 200, contentType: "text/plain; charset=utf-8", body: Array(note.serialized.utf8), immutable: false)
            }
            // Tiles of every tree a checkpoint was signed for (tlog-tiles: a log MUST serve the partial
            // tiles of those sizes), so a receipt's checkpoint not yet published is covered too.
            let signed = try store.latestCheckpoint()?.size ?? checkpoint.size
            guard let tile = TileID(path: String(path.dropFirst())), let bytes = try store.tile(tile, size: max(signed, checkpoint.size)) else {
                return Answer(status: 404, contentType: "text/plain; charset=utf-8", body: Array("no such tile in the signed tree\n".utf8), immutable: false)
            }
            // A tile's bytes never change, partial ones included (the width is in the path).
            return Answer(status: 200, contentType: "application/octet-stream", body: bytes, immutable: true)
        } catch {
            connection?.close()
            connection = nil
            return Answer(status: 503, contentType: "text/plain; charset=utf-8", body: Array("the database did not answer in time\n".utf8), immutable: false)
        }
    }
}
