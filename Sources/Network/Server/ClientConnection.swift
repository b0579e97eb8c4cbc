import ConnectionCore
import Dispatch
import Domain
import EventLog
import EventRecords
import Foundation
import JSON
import LineProtocol
import LogWriter
import Logging
import Observability
import WriteDecision

/// What a connection needs from the rest of the server.
protocol ConnectionHost: AnyObject, Sendable {
    var config: ServerConfig { get }
    var metrics: DaemonMetrics? { get }
    var committer: GroupCommitter { get }
    var writer: LogWriter { get }
    var readers: ReadPool { get }
    var logger: Logger { get }
    func connectionAuthenticated(_ id: Int)
    func connectionClosed(_ id: Int)
}

/// One client: the Dispatch shell around a `ConnectionStateMachine`. It owns the non-blocking
/// socket, its read and write sources and one deadline timer, all on the connection's serial
/// queue; it feeds the machine what happens (bytes, replies, the clock, output drained) and performs
/// the actions it returns. The socket is closed only in the last source's cancel handler.
///
/// Bytes cross the socket through a `Transport` (plain TCP or TLS). A TLS handshake runs first, on
/// the same two sources; the machine's clock starts at accept, so a handshake that stalls is closed
/// at the deadline to authenticate. Which source is armed follows what the transport last waited
/// for, which for TLS may be the other direction (a read that must write, a write that must read).
///
/// `@unchecked Sendable`: every mutable field is touched only on `queue` (handlers run there, and
/// answers from other threads hop onto it with `queue.async`).
final class ClientConnection: WriteOwner, @unchecked Sendable {
    /// A socket readiness a transport call waits for.

    let id: Int
    let remote: String
    private let fd: Int32
    private let transport: any Transport
    private let queue: DispatchQueue
    private unowned let host: ConnectionHost
    private var machine: ConnectionStateMachine
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var timer: DispatchSourceTimer?
    /// Whether each source is resumed (both start suspended, as Dispatch makes them).
    private var readArmed = false
    private var writeArmed = false
    /// What the transport waits for (pure: `ConnectionCore.TransportReadiness`).
    private var readiness = TransportReadiness()
    private var readPassScheduled = false
    /// Inside `readPass`, which itself reads what the transport holds before it returns.
    private var inReadPass = false
    private var inputEnded = false
    /// Set and cleared by the machine's `pauseReading` and `resumeReading` actions.
    private var readingPaused = false
    private var liveSources = 0
    private var armedDeadline: Double?
    private var output = OutputQueue()
    private var closed = false
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    init(fd: Int32, transport: any Transport, remote: String, id: Int, host: ConnectionHost) {
        self.fd = fd
        self.transport = transport
        self.remote = remote
        self.id = id
        self.host = host
        var limits = host.config.connection
        // Deadlines per request, not per database call: a request queued behind a stuck batch is
        // answered at its own deadline, not after that batch's timeout and then its own.
        if limits.requestTimeout == nil { limits.requestTimeout = host.config.databaseTimeout }
        self.machine = ConnectionStateMachine(limits: limits, now: Self.now())
        self.queue = DispatchQueue(label: "consultd.connection.\(id)")
    }

    /// Monotonic seconds (the clock Dispatch timers use).
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func start() {
        queue.async { [self] in
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            read.setEventHandler { [self] in readable() }
            read.setCancelHandler { [self] in sourceCancelled() }
            let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            write.setEventHandler { [self] in writable() }
            write.setCancelHandler { [self] in sourceCancelled() }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [self] in
                armedDeadline = nil
                perform(machine.tick(now: Self.now()))
            }
            timer.setCancelHandler { [self] in sourceCancelled() }
            timer.schedule(deadline: .distantFuture, repeating: .never)
            readSource = read
            writeSource = write
            self.timer = timer
            liveSources = 3
            timer.resume()
            // The greeting waits in the output until the handshake (if any) is done.
            perform(machine.start())
            advanceHandshake()
        }
    }

    /// Stops taking requests; what was taken is still answered, then the connection closes.
    func drain() {
        queue.async { [self] in perform(machine.drain(now: Self.now())) }
    }

    /// Closes the connection if it has not authenticated (the server needs its slot).
    func evict() {
        queue.async { [self] in perform(machine.evict(now: Self.now())) }
    }

    // MARK: Readiness

    private func readable() {
        let then = readiness.whenReadable
        ready(flushFirst: true, flush: then.flush, read: then.read)
    }

    private func writable() {
        let then = readiness.whenWritable
        ready(flushFirst: false, flush: then.flush, read: then.read)
    }

    /// Reads and writes what the readiness allows (the handshake first, until it is done); the side
    /// the socket became ready for goes second.
    private func ready(flushFirst: Bool, flush shouldFlush: Bool, read shouldRead: Bool) {
        guard readiness.established else { return advanceHandshake() }
        if flushFirst && shouldFlush { flush() }
        if shouldRead { readPass() }
        if !flushFirst && shouldFlush { flush() }
        updateInterest()
    }

    private func advanceHandshake() {
        guard !closed, !readiness.established else { return }
        let outcome = transport.handshake()
        switch outcome {
        case .done:
            readiness.handshakeDone()
            if let tls = transport as? TLSTransport {
                host.logger.debug(
                    "TLS established",
                    metadata: ["connection": "\(id)", "remote": "\(remote)", "tls": "\(tls.agreed)",
                               "certificate": "\(tls.certifiedOrganisation ?? "-")"])
            }
            flush()
            // The client may have sent requests right behind its last handshake message.
            readPass()
        case .wantRead, .wantWrite:
            readiness.handshake(waits: outcome.wait!)
            updateInterest()
        case .closed:
            abort("closed during the TLS handshake")
        case .failed(let reason):
            host.logger.info("TLS handshake failed", metadata: ["connection": "\(id)", "remote": "\(remote)", "reason": "\(reason)"])
            shutdown()
        }
    }

    /// Arms each source for what the connection waits for now. Bytes already inside the transport
    /// do not make the socket readable, so they are read at once instead of waited for.
    private func updateInterest() {
        guard !closed, let readSource, let writeSource else { return }
        let pending = !output.isEmpty
        assert(wantsInput == machine.wantsInput, "the shell's reading state and the machine's disagree")
        let reading = readiness.established && wantsInput
        let (wantRead, wantWrite) = readiness.interest(reading: reading, pending: pending, inputEnded: inputEnded)
        // A cancelled source is never suspended again (closed is checked above): its cancellation
        // would never complete.
        if wantRead != readArmed {
            if wantRead { readSource.resume() } else { readSource.suspend() }
            readArmed = wantRead
        }
        if wantWrite != writeArmed {
            if wantWrite { writeSource.resume() } else { writeSource.suspend() }
            writeArmed = wantWrite
        }
        if reading && readiness.readWaits == nil && !inReadPass && !readPassScheduled && transport.hasBufferedInput {
            readPassScheduled = true
            queue.async { [self] in
                readPassScheduled = false
                readPass()
            }
        }
    }

    // MARK: Reading

    /// Whether to read: the machine has not paused reading, is still taking requests, and the client
    /// has not closed its side: the machine's `wantsInput`, followed through its actions (debug builds,
    /// which the tests run, check the two agree each time the sources are armed).
    private var wantsInput: Bool { !readingPaused && machine.isOpen && !inputEnded }

    private func readPass() {
        guard !closed, readiness.established, !inReadPass else { return }
        readiness.readWaits = nil
        inReadPass = true
        var total = 0
        reading: while !closed && wantsInput && total < 262_144 {
            let budget = min(buffer.count, machine.readBudget)
            if budget == 0 { break }
            let outcome = buffer.withUnsafeMutableBytes { transport.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<budget])) }
            switch outcome {
            case .done(let count):
                if count == 0 { break reading }
                total += count
                perform(machine.received(buffer[0..<count], now: Self.now()))
            case .closed:
                inputEnded = true
                perform(machine.inputEnded(now: Self.now()))
                break reading
            case .wantRead, .wantWrite:
                readiness.readWaits = outcome.wait
                break reading
            case .failed(let reason):
                inReadPass = false
                return abort("read failed: \(reason)")
            }
        }
        inReadPass = false
        updateInterest()
    }

    // MARK: Performing

    private func perform(_ actions: [ConnectionStateMachine.Action]) {
        guard !closed else { return }
        var sent = false
        var refused: [(sequence: Int, reply: Reply)] = []
        for action in actions {
            switch action {
            case .send(let bytes):
                output.append(bytes)
                sent = true
            case .pauseReading:
                readingPaused = true
            case .resumeReading:
                readingPaused = false
            case .authenticate(let sequence, let organisation, let token?):
                host.readers.authenticate(organisation: organisation, token: token) { [self] valid in
                    queue.async { [self] in authenticated(sequence, organisation, valid) }
                }
            case .authenticate(let sequence, let organisation, nil):
                host.readers.authenticate(organisation: organisation, certified: transport.certifiedOrganisation) { [self] valid in
                    queue.async { [self] in authenticated(sequence, organisation, valid) }
                }
            case .read(let sequence, .consultations):
                host.readers.consultations(deadline: machine.deadline(of: sequence)) { [self] reply in
                    queue.async { [self] in answered(sequence, reply) }
                }
            case .read(let sequence, .status(let organisation, let consultation, let key)):
                host.readers.status(organisation: organisation, consultation: consultation, key: key, deadline: machine.deadline(of: sequence)) {
                    [self] reply in queue.async { [self] in answered(sequence, reply) }
                }
            case .read(let sequence, .receipt(let organisation, let consultation, let key)):
                host.readers.receipt(organisation: organisation, consultation: consultation, key: key, deadline: machine.deadline(of: sequence)) {
                    [self] reply in queue.async { [self] in answered(sequence, reply) }
                }
            case .write(let sequence, let write, let cost):
                if let reply = enqueue(write, sequence: sequence, cost: cost) { refused.append((sequence, reply)) }
            case .authenticated(let organisation):
                host.logger.info("authenticated", metadata: ["connection": "\(id)", "organisation": "\(organisation)"])
                host.connectionAuthenticated(id)
                host.readers.openDataKey(for: organisation)
            case .close:
                return shutdown()
            }
        }
        // Before the handshake is done nothing can be said to the client: closing means closing now
        // (a deadline, an eviction or a drain reached a connection still shaking hands).
        if !readiness.established && !machine.isOpen { return abort("closing before the TLS handshake was complete") }
        if sent { flush() }
        if !refused.isEmpty { return perform(machine.writesAnswered(refused, now: Self.now())) }
        updateInterest()
        armTimer()
    }

    private func authenticated(_ sequence: Int, _ organisation: String, _ valid: Bool) {
        if !valid {
            // Never the token; the claimed id helps an operator spot guessing.
            host.logger.warning(
                "authentication failed", metadata: ["connection": "\(id)", "remote": "\(remote)", "claimed": "\(organisation)"])
        }
        perform(machine.authenticated(sequence: sequence, organisation: organisation, valid: valid, now: Self.now()))
    }

    private func answered(_ sequence: Int, _ reply: Reply) {
        perform(machine.answered(sequence: sequence, reply: reply, now: Self.now()))
    }

    /// Prepares a write (its shape checked, its event built and, when its organisation's data key is
    /// open, sealed: on this connection's queue, not the committer's) and queues it; returns the reply
    /// when it is refused at once (its parsed body is dropped here either way).
    private func enqueue(_ write: ConnectionStateMachine.Write, sequence: Int, cost: Int) -> Reply? {
        let metadata = JSONValue.object([
            ("protocol", .string("consultd-line/1")), ("remote", .string(remote)), ("connection", .number(String(id))),
            ("transport", .string(transport is TLSTransport ? "tls" : "tcp")),
        ])
        let wording = WriteWording(write)
        let prepared: PreparedWrite
        switch write {
        case .submit(let organisation, let consultation, let key, let body):
            let submission = SubmissionKey(organisation: organisation, consultation: consultation, key: key)
            switch PreparedWrite.submission(submission, body: body, metadata: metadata) {
            case .failure(let refusal):
                host.metrics?.write(.submit, .refused)
                return refusal.reply
            case .success(let write):
                prepared = write
            }
        case .withdraw(let organisation, let consultation, let key, let reason):
            let submission = SubmissionKey(organisation: organisation, consultation: consultation, key: key)
            prepared = PreparedWrite.withdrawal(submission, reason: reason, metadata: metadata)
        }
        let sealed = host.writer.sealIfKeyOpen(prepared.event)
        // The machine's cost counts the request and its event, each about the line's size; queued,
        // the parsed request is gone and the event is held plain and sealed: whichever is more.
        let held = [prepared.event, sealed?.event].compactMap { $0 }
            .reduce(512) { $0 + $1.data.text.utf8.count + $1.metadata.text.utf8.count }
        let request = WriteRequest(
            write: prepared, sealed: sealed, cost: max(cost, held), owner: self, sequence: sequence,
            deadline: machine.deadline(of: sequence) ?? .infinity)
        guard let refusal = host.committer.enqueue(request) else {
            pendingWrites[sequence] = wording
            return nil
        }
        host.metrics?.write(wording.metricVerb, refusal.metric)
        return wording.reply(for: refusal)
    }

    func writesFinished(_ outcomes: [(sequence: Int, outcome: WriteOutcome)]) {
        queue.async { [self] in
            // Counted whether or not the client is still there to read the reply: it was decided.
            let words = outcomes.map { sequence, outcome in
                let wording = pendingWrites.removeValue(forKey: sequence) ?? Self.unknownWrite
                host.metrics?.write(wording.metricVerb, outcome.metric)
                return (sequence, wording.reply(for: outcome))
            }
            guard !closed else { return }
            perform(machine.writesAnswered(words, now: Self.now()))
        }
    }

    /// What each write in flight was (without its body), to word its reply.
    private var pendingWrites: [Int: WriteWording] = [:]
    private static let unknownWrite = WriteWording(verb: .submit, key: "?", consultation: "?")

    // MARK: Writing

    private func flush() {
        guard !closed else { return }
        if readiness.established {
            readiness.writeWaits = nil
            writing: while !output.isEmpty {
                let outcome = output.withNextChunk { transport.write($0) }
                switch outcome {
                case .done(let sent):
                    if sent == 0 { break writing }
                    output.removeFirst(sent)
                case .wantRead, .wantWrite:
                    readiness.writeWaits = outcome.wait
                    break writing
                case .closed:
                    return abort("write failed: the connection was closed")
                case .failed(let reason):
                    return abort("write failed: \(reason)")
                }
            }
        }
        updateInterest()
        perform(machine.flushed(pending: output.count, now: Self.now()))
    }

    // MARK: Time and lifecycle

    /// Arms the timer for the machine's next deadline when that is earlier than the one armed; a
    /// timer that fires early (the deadline moved on) just re-arms.
    private func armTimer() {
        guard !closed, let timer, let deadline = machine.nextDeadline else { return }
        if let armedDeadline, armedDeadline <= deadline { return }
        armedDeadline = deadline
        timer.schedule(deadline: DispatchTime(uptimeNanoseconds: UInt64(max(0, deadline) * 1e9)), repeating: .never, leeway: .milliseconds(50))
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
        transport.shutdown()
        if let readSource {
            readSource.cancel()
            if !readArmed { readSource.resume() }
        }
        if let writeSource {
            writeSource.cancel()
            if !writeArmed { writeSource.resume() }
        }
        timer?.cancel()
        output.removeAll()
        pendingWrites = [:]
    }

    private func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0 {
            Foundation.close(fd)
            readSource = nil
            writeSource = nil
            timer = nil
            host.connectionClosed(id)
        }
    }
}

extension WriteWording {
    init(_ write: ConnectionStateMachine.Write) {
        switch write {
        case .submit(_, let consultation, let key, _): self.init(verb: .submit, key: key, consultation: consultation)
        case .withdraw(_, let consultation, let key, _): self.init(verb: .withdraw, key: key, consultation: consultation)
        }
    }

    /// The `verb` label of `consultd_writes_total`.
    var metricVerb: DaemonMetrics.Verb {
        switch verb {
        case .submit: return .submit
        case .withdraw: return .withdraw
        }
    }
}

extension TransportOutcome {
    /// The readiness a `wantRead` or `wantWrite` waits for (nil for the other outcomes).
    var wait: TransportReadiness.Wait? {
        switch self {
        case .wantRead: return .readable
        case .wantWrite: return .writable
        case .done, .closed, .failed: return nil
        }
    }
}
