import Dispatch
import Domain
import EventLog
import Foundation
import LineProtocol
import Logging

/// What a connection needs from the rest of the server.
protocol ConnectionHost: AnyObject {
    var config: ServerConfig { get }
    var committer: GroupCommitter { get }
    var reader: Reader { get }
    var logger: Logger { get }
    func connectionClosed(_ id: Int)
}

/// One client: a non-blocking socket with Dispatch read and write sources on its own serial queue.
///
/// Requests are answered in order: each gets a sequence number, answers may complete out of order
/// (a STATUS before a batch commit), and only the contiguous prefix is written. Reading pauses while
/// too many requests are unanswered or too many reply bytes wait for a slow reader, so no client can
/// make the daemon grow without bound. The socket is closed only in the last source's cancel handler.
final class ClientConnection: WriteOwner, @unchecked Sendable {
    let id: Int
    let remote: String
    private let fd: Int32
    private let queue: DispatchQueue
    private unowned let host: ConnectionHost
    private var framer: LineFramer
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var idleTimer: DispatchSourceTimer?
    private var readPaused = false
    private var writeArmed = false
    private var liveSources = 0

    private var frames: [LineFramer.Frame] = []
    private var frameHead = 0
    private var output: [UInt8] = []
    private var outputHead = 0
    private var nextSequence = 0
    private var nextToWrite = 0
    private var finished: [Int: Reply] = [:]

    private var organisation: String?
    private var authFailures = 0
    private var awaitingAuth = false
    /// SUBMITs and WITHDRAWs sent to the committer and not yet answered.
    private var pendingWrites = 0
    private var awaitingWrites = false
    /// No more requests are taken; close once everything owed is written.
    private var closing = false
    private var inputEnded = false
    private var closed = false
    private var lastInput = Date()

    static let maxAuthFailures = 5

    init(fd: Int32, remote: String, id: Int, host: ConnectionHost) {
        self.fd = fd
        self.remote = remote
        self.id = id
        self.host = host
        self.framer = LineFramer(maxLineLength: host.config.maxLineLength)
        self.queue = DispatchQueue(label: "consultd.connection.\(id)")
    }

    func start() {
        queue.async { [self] in
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            read.setEventHandler { [self] in onReadable() }
            read.setCancelHandler { [self] in sourceCancelled() }
            let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            write.setEventHandler { [self] in flush() }
            write.setCancelHandler { [self] in sourceCancelled() }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let interval = max(0.05, min(host.config.idleTimeout / 4, 5))
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [self] in checkIdle() }
            timer.setCancelHandler { [self] in sourceCancelled() }
            readSource = read
            writeSource = write
            idleTimer = timer
            liveSources = 3
            read.resume()
            timer.resume()
            // The write source starts suspended: it is armed only while replies wait for the socket.
            send(Array("OK consultd 1 ready\n".utf8))
        }
    }

    /// Stops taking requests; what is owed is still answered, then the connection closes.
    func drain() {
        queue.async { [self] in
            closing = true
            frames.removeAll()
            frameHead = 0
            finishIfDone()
        }
    }

    // MARK: Reading

    private func onReadable() {
        guard !closed else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var total = 0
        while total < 262_144 && !inputEnded {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                total += count
                lastInput = Date()
                frames.append(contentsOf: framer.feed(buffer[0..<count]))
            } else if count == 0 {
                inputEnded = true
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                break
            } else {
                abort("read failed: \(String(cString: strerror(errno)))")
                return
            }
        }
        if inputEnded, let readSource, !readPaused {
            // At end of input the source would fire forever; pausing it ends that.
            readSource.suspend()
            readPaused = true
        }
        processFrames()
        finishIfDone()
        applyBackpressure()
    }

    private func processFrames() {
        while frameHead < frames.count && !awaitingAuth && !awaitingWrites && !closing {
            let frame = frames[frameHead]
            frameHead += 1
            switch frame {
            case .tooLong:
                answer(next(), .error(.tooLong, "line longer than \(host.config.maxLineLength) bytes; it was discarded"))
            case .line(let bytes):
                if bytes.isEmpty { continue }  // a blank line (an extra Enter in nc) asks nothing
                switch Request.parse(bytes) {
                case .failure(let error):
                    answer(next(), error.reply)
                case .success(let request):
                    if request.readsState && pendingWrites > 0 {
                        // A read must see this connection's earlier writes: wait for them to commit.
                        frameHead -= 1
                        awaitingWrites = true
                        return
                    }
                    handle(request, next())
                }
            }
        }
        if frameHead == frames.count {
            frames.removeAll(keepingCapacity: true)
            frameHead = 0
        }
    }

    private func next() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    private func handle(_ request: Request, _ sequence: Int) {
        guard organisation != nil || request.allowedBeforeAuth else {
            answer(sequence, .error(.noAuth, "AUTH <organisation-id> <token> first"))
            return
        }
        switch request {
        case .ping:
            answer(sequence, .ok("PONG"))
        case .quit:
            answer(sequence, .ok("BYE"))
            closing = true
        case .auth(let organisation, let token):
            // Later requests wait for the outcome: they may depend on who is authenticated.
            awaitingAuth = true
            host.reader.authenticate(organisation: organisation, token: token) { [self] valid in
                queue.async { [self] in authenticated(organisation, valid: valid, sequence: sequence) }
            }
        case .consultations:
            host.reader.consultations { [self] reply in queue.async { [self] in answer(sequence, reply) } }
        case .status(let consultation, let key):
            host.reader.status(organisation: organisation!, consultation: consultation, key: key) { [self] reply in
                queue.async { [self] in answer(sequence, reply) }
            }
        case .submit(let consultation, let key, let body):
            write(.submit(body), consultation: consultation, key: key, sequence: sequence)
        case .withdraw(let consultation, let key, let reason):
            write(.withdraw(reason: reason), consultation: consultation, key: key, sequence: sequence)
        }
    }

    private func authenticated(_ claimed: String, valid: Bool, sequence: Int) {
        awaitingAuth = false
        if valid {
            organisation = claimed
            host.logger.info("authenticated", metadata: ["connection": "\(id)", "organisation": "\(claimed)"])
            answer(sequence, .ok("AUTH \(claimed)"))
        } else {
            authFailures += 1
            // Never the token; the claimed id helps an operator spot guessing.
            host.logger.warning(
                "authentication failed",
                metadata: ["connection": "\(id)", "remote": "\(remote)", "claimed": "\(claimed)", "failures": "\(authFailures)"])
            if authFailures >= Self.maxAuthFailures {
                answer(sequence, .error(.auth, "invalid credential; too many failures, closing"))
                closing = true
            } else {
                answer(sequence, .error(.auth, "invalid credential"))
            }
        }
        processFrames()
        finishIfDone()
        applyBackpressure()
    }

    private func write(_ kind: WriteRequest.Kind, consultation: String, key: String, sequence: Int) {
        let metadata = JSONValue.object([
            ("protocol", .string("consultd-line/1")), ("remote", .string(remote)), ("connection", .number(String(id))),
        ])
        let event: NewEvent
        switch kind {
        case .submit(let body):
            event = DomainEvents.submissionReceived(
                organisation: organisation!, consultation: consultation, key: key, body: body, metadata: metadata)
        case .withdraw(let reason):
            event = DomainEvents.submissionWithdrawn(
                organisation: organisation!, consultation: consultation, key: key, reason: reason, metadata: metadata)
        }
        let request = WriteRequest(
            kind: kind, organisation: organisation!, consultation: consultation, key: key, event: event, owner: self,
            sequence: sequence)
        pendingWrites += 1
        if !host.committer.enqueue(request) {
            finishWrites([(sequence, GroupCommitter.busy)])
        }
    }

    func writesFinished(_ replies: [(sequence: Int, reply: Reply)]) {
        queue.async { [self] in finishWrites(replies) }
    }

    private func finishWrites(_ replies: [(sequence: Int, reply: Reply)]) {
        pendingWrites -= replies.count
        answer(replies)
        if pendingWrites == 0 && awaitingWrites {
            awaitingWrites = false
            processFrames()
            finishIfDone()
            applyBackpressure()
        }
    }

    // MARK: Writing

    private func answer(_ sequence: Int, _ reply: Reply) {
        answer([(sequence, reply)])
    }

    /// Records replies and sends, in one write, every reply that is next in order.
    private func answer(_ replies: [(sequence: Int, reply: Reply)]) {
        guard !closed else { return }
        for (sequence, reply) in replies { finished[sequence] = reply }
        var ready: [UInt8] = []
        while let reply = finished.removeValue(forKey: nextToWrite) {
            ready.append(contentsOf: reply.line.utf8)
            nextToWrite += 1
        }
        if !ready.isEmpty { send(ready) }
        finishIfDone()
        applyBackpressure()
    }

    private func send(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
        flush()
    }

    private func flush() {
        guard !closed else { return }
        while outputHead < output.count {
            let sent = output.withUnsafeBytes { raw in
                Foundation.send(fd, raw.baseAddress! + outputHead, output.count - outputHead, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                outputHead += sent
            } else if sent < 0 && errno == EINTR {
                continue
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                break
            } else {
                abort("write failed: \(String(cString: strerror(errno)))")
                return
            }
        }
        if outputHead == output.count {
            output.removeAll(keepingCapacity: output.count <= 65_536)
            outputHead = 0
        } else if outputHead >= 65_536 {
            output.removeFirst(outputHead)
            outputHead = 0
        }
        let pending = outputHead < output.count
        if pending != writeArmed, let writeSource {
            if pending { writeSource.resume() } else { writeSource.suspend() }
            writeArmed = pending
        }
        finishIfDone()
        applyBackpressure()
    }

    // MARK: Flow control and lifecycle

    private func applyBackpressure() {
        guard !closed, !inputEnded, let readSource else { return }
        let unanswered = nextSequence - nextToWrite + (frames.count - frameHead)
        let shouldPause = unanswered >= host.config.maxInFlightPerConnection
            || output.count - outputHead >= host.config.maxOutputBytes
        if shouldPause != readPaused {
            if shouldPause { readSource.suspend() } else { readSource.resume() }
            readPaused = shouldPause
        }
    }

    private func checkIdle() {
        guard !closed, !closing, nextToWrite == nextSequence, !awaitingAuth else { return }
        if Date().timeIntervalSince(lastInput) >= host.config.idleTimeout {
            answer(next(), .error(.timeout, "idle for \(Int(host.config.idleTimeout)) s; closing"))
            closing = true
            finishIfDone()
        }
    }

    private func finishIfDone() {
        guard !closed else { return }
        let inputDone = closing || (inputEnded && frameHead == frames.count && !awaitingAuth && !awaitingWrites)
        if inputDone && nextToWrite == nextSequence && outputHead == output.count {
            shutdown()
        }
    }

    private func abort(_ reason: String) {
        host.logger.debug("connection dropped", metadata: ["connection": "\(id)", "reason": "\(reason)"])
        shutdown()
    }

    /// Cancels every source; the last cancel handler closes the socket. A suspended source must be
    /// resumed before its cancellation can complete.
    private func shutdown() {
        guard !closed else { return }
        closed = true
        if let readSource {
            readSource.cancel()
            if readPaused { readSource.resume() }
        }
        if let writeSource {
            writeSource.cancel()
            if !writeArmed { writeSource.resume() }
        }
        idleTimer?.cancel()
        output = []
        finished = [:]
    }

    private func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0 {
            Foundation.close(fd)
            readSource = nil
            writeSource = nil
            idleTimer = nil
            host.connectionClosed(id)
        }
    }
}
