import Foundation

/// What a child process writes to a pipe, read to its end on a thread of its own (so the child never
/// blocks on a full pipe), with waits woken by each chunk rather than by polling.
public final class PipeReader: Sendable {
    private struct State {
        var text = ""
        var ended = false
    }
    private let state = Locked(State())
    private let readyOrEnded = DispatchSemaphore(value: 0)
    private let chunkArrived = DispatchSemaphore(value: 0)

    /// Starts reading `fd` (closed at its end); `isReady` says when the text first shows the child is ready.
    public init(fd: Int32, isReady: @escaping @Sendable (String) -> Bool) {
        let state = self.state
        let readyOrEnded = self.readyOrEnded
        let chunkArrived = self.chunkArrived
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var signalled = false
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                let chunk = String(decoding: buffer[0..<count], as: UTF8.self)
                let ready = state.withLock { state -> Bool in
                    state.text += chunk
                    return isReady(state.text)
                }
                chunkArrived.signal()
                if ready && !signalled {
                    signalled = true
                    readyOrEnded.signal()
                }
            }
            close(fd)
            state.withLock { $0.ended = true }
            chunkArrived.signal()
            if !signalled { readyOrEnded.signal() }
        }.start()
    }

    /// Everything read so far.
    public var text: String { state.current.text }

    /// Waits until the text shows the child is ready, or the pipe ended; false on timeout.
    public func waitUntilReadyOrEnded(timeout: Double) -> Bool { readyOrEnded.wait(timeout: .now() + timeout) == .success }

    /// Waits until the text contains `text`; false on timeout or when the pipe ended without it.
    public func waitFor(_ text: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !self.text.contains(text) {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 || state.current.ended { return self.text.contains(text) }
            _ = chunkArrived.wait(timeout: .now() + remaining)
        }
        return true
    }
}
