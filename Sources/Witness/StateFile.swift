import Foundation

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
    }

    public let path: String
    private let lock = NSLock()
    private var state: WitnessState
    private let lockFD: Int32

    /// Opens the state at `path` (a missing file is an empty state; an unreadable or foreign one is
    /// an error, never silently replaced).
    public init(path: String) throws {
        self.path = path
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Failure(description: "\(path) is in use by another witness (\(lockPath) is locked)")
        }
        lockFD = fd
        if FileManager.default.fileExists(atPath: path) {
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
        } else {
            state = WitnessState()
        }
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
    /// that fails leaves the state as it was and throws.
    public func update<R>(_ body: (WitnessState) -> (result: R, origin: String?, record: LogRecord?)) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        let (result, origin, record) = body(state)
        if let origin, let record {
            var next = state
            next.logs[origin] = record
            try Self.write(next, to: path)
            state = next
        }
        return result
    }

    /// Writes `state` to `path` atomically and durably (temporary file, fsync, rename, fsync of the folder).
    static func write(_ state: WitnessState, to path: String) throws {
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
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
        let dir = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw Failure(description: "cannot open \(folder) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw Failure(description: "cannot sync \(folder): \(String(cString: strerror(errno)))") }
    }
}
