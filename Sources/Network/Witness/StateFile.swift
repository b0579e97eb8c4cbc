import Foundation
import Transparency

#if canImport(Glibc)
import Glibc
#endif

/// The witness's state on disk, one JSON file, and the lock that makes check-and-store one step.
///
/// Every change is written durably before it is visible: a temporary file beside the state file is
/// written and fsynced, renamed over it, and the folder is fsynced, so after a crash the file holds
/// either the old state or the new one, never a mixture, and a cosignature is never returned for a
/// state that a crash could lose. A second witness process on the same file is refused (an advisory
/// `flock` on `<file>.lock`, held for the process's life).
///
/// `@unchecked Sendable`: `state` is read and written only under `lock`.
public final class WitnessStore: @unchecked Sendable {
    /// Why the state could not be read or written, in one line naming the file.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// The new state was renamed over the file before the failure: the file holds it.
        var renamed = false
    }

    public let path: String
    private let lock = NSLock()
    private var state: WitnessState
    private let lockFD: Int32
    /// Syncs the state file's folder after the rename (a seam for tests, which make it fail).
    /// True when this open made a new, empty state (a witness's first start).
    public private(set) var created = false
    var syncFolder: (String) throws -> Void = WitnessStore.fsyncFolder

    /// Opens the state at `path`. A witness that forgets its state cosigns any tree from `old 0`, a
    /// fork included, so a missing file is an empty state only on a witness's first start: when
    /// nothing was ever kept there (no `path.lock`, which every start leaves beside the state), or
    /// when `createNew` asks for it. A state file gone from beside its lock file stops the witness.
    /// With `createNew` the file must not exist. A new state is written durably at once (`created`).
    /// A file that is unreadable, foreign, or inconsistent is an error, never silently replaced.
    public init(path: String, createNew: Bool = false) throws {
        self.path = path
        let lockPath = path + ".lock"
        let keptBefore = FileManager.default.fileExists(atPath: lockPath)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Failure(description: "\(path) is in use by another witness (\(lockPath) is locked)")
        }
        lockFD = fd
        let exists = FileManager.default.fileExists(atPath: path)
        if createNew || (!exists && !keptBefore) {
            guard !exists else {
                close(fd)
                throw Failure(description: "\(path) exists and --new-state never overwrites a witness state: start without --new-state to use it")
            }
            state = WitnessState()
            do {
                try Self.write(state, to: path, syncFolder: Self.fsyncFolder, exclusive: true)
            } catch {
                close(fd)
                throw error
            }
            created = true
            return
        }
        guard exists else {
            close(fd)
            throw Failure(description: "\(path) is gone, but \(lockPath) shows a state was kept there: restore it (a witness that forgets its state can be made to cosign a fork), or give --new-state to start this witness over")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            close(fd)
            throw Failure(description: "cannot read \(path)")
        }
        do {
            state = try JSONDecoder().decode(WitnessState.self, from: data)
        } catch {
            close(fd)
            throw Failure(description: "\(path) is not a witness state file: \(error)")
        }
        guard state.format == WitnessState.currentFormat else {
            close(fd)
            throw Failure(description: "\(path) has format \(state.format), not \(WitnessState.currentFormat)")
        }
        for origin in state.logs.keys.sorted() {
            if let problem = Self.problem(with: state.logs[origin]!, origin: origin) {
                close(fd)
                throw Failure(description: "\(path): log \"\(LogText.escaped(origin, maxBytes: 100))\": \(problem)")
            }
        }
    }

    /// What is wrong with a stored record (naming the field), or nil when it is sound: a size that
    /// is not negative, a root of 32 bytes, a checkpoint note for this origin with that size and
    /// root, and a cosignature time a cosignature can carry (at most 2^63 - 1; a larger one would
    /// stop the witness at the next request for the log).
    static func problem(with record: LogRecord, origin: String) -> String? {
        guard record.size >= 0 else { return "size \(record.size) is negative" }
        guard let root = Base64.decode(record.root), root.count == 32 else { return "root is not the base64 of 32 bytes" }
        guard record.cosignedAt <= UInt64(Int64.max) else { return "cosigned_at \(record.cosignedAt) is over 2^63 - 1" }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(text: try SignedNote(parsing: Array(record.checkpoint.utf8)).text)
        } catch {
            return "checkpoint is not a checkpoint note: \(error)"
        }
        guard checkpoint.origin == origin else { return "checkpoint is for another origin" }
        guard checkpoint.size == record.size else { return "checkpoint has size \(checkpoint.size), not the size \(record.size)" }
        guard checkpoint.root.bytes == root else { return "checkpoint's root hash is not root" }
        return nil
    }

    deinit { close(lockFD) }

    /// The state now (a copy).
    public var current: WitnessState {
        lock.lock()
        defer { lock.unlock() }
        return state
    }

    /// Runs `body` with the state under the lock; when it returns a new record for an origin, the
    /// new state is persisted durably before the lock is released and before this returns. A write
    /// that fails throws; the state in memory is then the one the file holds (see below).
    public func update<R>(_ body: (WitnessState) -> (result: R, origin: String?, record: LogRecord?)) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        let (result, origin, record) = body(state)
        if let origin, let record {
            var next = state
            next.logs[origin] = record
            do {
                try Self.write(next, to: path, syncFolder: syncFolder)
            } catch let failure as Failure where failure.renamed {
                // The rename happened: the file holds `next` (whether a crash keeps it is unknown).
                // Memory follows the file. Were memory kept at the old state, the next write (for
                // this log or any other) would put this log's record back to the old one on disk:
                // the file would move backwards. With memory at `next`, every later state extends
                // it, so the file only ever moves forward. The failure is still the caller's error
                // (a 500): nothing is cosigned for a state not known to be durable.
                state = next
                throw failure
            }
            state = next
        }
        return result
    }

    /// fsync(2) of a folder.
    static func fsyncFolder(_ folder: String) throws {
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw Failure(description: "cannot open \(folder) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw Failure(description: "cannot sync \(folder): \(String(cString: strerror(errno)))") }
    }

    /// Writes `state` to `path` atomically and durably (temporary file, fsync, rename, fsync of the
    /// folder). A failure after the rename is marked `renamed`: the file then holds `state`.
    /// `exclusive`: the file must not exist, and is linked into place rather than renamed over
    /// anything (a file that appeared meanwhile is never replaced).
    static func write(_ state: WitnessState, to path: String, syncFolder: (String) throws -> Void, exclusive: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(state) + Data("\n".utf8)
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = data.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += count
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw Failure(description: "cannot write \(temporary): \(reason)")
        }
        close(fd)
        if exclusive {
            guard link(temporary, path) == 0 else {
                let reason = errno == EEXIST ? "it exists (never overwritten)" : String(cString: strerror(errno))
                unlink(temporary)
                throw Failure(description: "cannot create \(path): \(reason)")
            }
            unlink(temporary)
        } else {
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw Failure(description: "cannot rename \(temporary) to \(path): \(reason)")
            }
        }
        do {
            try syncFolder(folder.isEmpty ? "." : folder)
        } catch {
            throw Failure(description: "\(path) was replaced but its folder not synced: \(error)", renamed: true)
        }
    }
}
