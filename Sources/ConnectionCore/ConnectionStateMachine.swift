import JSON
import LineProtocol

/// One client connection's protocol logic as a value: inputs in (bytes read, replies ready, a clock
/// reading, output drained), actions out (send, pause reading, authenticate, read, write, close). It
/// does no I/O and reads no clock, so every limit can be tested without a socket or a database; the
/// Dispatch shell (`Server.ClientConnection`) only feeds it and performs what it returns.
///
/// Replies go out in request order: each request gets a sequence number, answers may arrive out of
/// order (a STATUS before a batch commit), and only the contiguous prefix is sent. Everything a
/// client can make the daemon hold is bounded in bytes (`ConnectionLimits`): requests read ahead,
/// requests in flight, replies unread. Time is bounded too: AUTH, each line, idleness, and a client
/// that stops reading its replies.
public struct ConnectionStateMachine: Sendable {
    /// What the shell must do, in the order given.
    public enum Action: Equatable, Sendable {
        /// Append these bytes to the output (then report what is left with `flushed(pending:now:)`).
        case send([UInt8])
        case pauseReading
        case resumeReading
        /// Check a credential (no token: the connection's TLS client certificate must name the
        /// organisation); answer with `authenticated(sequence:organisation:valid:now:)`.
        case authenticate(sequence: Int, organisation: String, token: String?)
        /// Answer with `answered(sequence:reply:now:)`.
        case read(sequence: Int, Read)
        /// Queue for the committer; answer with `writesAnswered(_:now:)`. `cost` is what it holds in bytes.
        case write(sequence: Int, Write, cost: Int)
        /// The connection is no longer waiting for AUTH (the first successful one).
        case authenticated(organisation: String)
        /// Close the socket; nothing more will be asked.
        case close
    }

    /// A request answered from the registry or the database, not the log's writer.
    public enum Read: Equatable, Sendable {
        case consultations
        case status(organisation: String, consultation: String, key: String)
        case receipt(organisation: String, consultation: String, key: String)
    }

    /// A request that appends to the log.
    public enum Write: Equatable, Sendable {
        case submit(organisation: String, consultation: String, key: String, body: JSONValue)
        case withdraw(organisation: String, consultation: String, key: String, reason: String?)
    }

    enum Phase: Equatable, Sendable {
        case open
        /// No more requests are taken; close once everything owed is sent.
        case closing
        case closed
    }

    public static let greeting = Array("OK consultd 1 ready\n".utf8)

    public let limits: ConnectionLimits
    private var framer: LineFramer
    private var frames: [LineFramer.Frame] = []
    /// When each of `frames` arrived (its newline read): a request's deadline counts from it, so a
    /// request held back behind earlier ones (reads wait for writes, writes for reads) is not given
    /// a fresh timeout when it is finally taken.
    private var arrivals: [Double] = []
    private var frameHead = 0
    /// Bytes of framed lines not yet taken.
    private var queuedInputBytes = 0
    private var phase = Phase.open
    private var inputEnded = false
    private var readingPaused = false

    public private(set) var organisation: String?
    private var authFailures = 0
    private var awaitingAuth = false
    private var pendingWrites = 0
    private var readsInFlight = 0
    /// Sequence → bytes held, for every request handed to the shell and not yet answered.
    private var costs: [Int: Int] = [:]
    public private(set) var inFlightBytes = 0
    /// Sequence → deadline (and whether a write) of every read and write handed to the shell and not
    /// yet answered, when `limits.requestTimeout` is set.
    private var deadlines: [Int: (at: Double, write: Bool)] = [:]
    /// The same sequences in the order taken, which is also deadline order (arrivals never go back
    /// in time); answered ones are skipped lazily.
    private var deadlineOrder: [Int] = []
    private var deadlineHead = 0
    /// Sequences answered BUSY at their deadline whose real answer has not come yet (it is dropped).
    private var expired: Set<Int> = []

    private var nextSequence = 0
    private var nextToWrite = 0
    private var finished: [Int: Reply] = [:]
    private var finishedBytes = 0
    /// Reply bytes handed to the shell and not yet written to the socket.
    private var outputPending = 0

    private let connectedAt: Double
    /// The last input, or the last answer to a request (idleness counts from whichever is later).
    private var lastActivity: Double
    private var lineStartedAt: Double?
    private var lastOutputProgress: Double

    public init(limits: ConnectionLimits, now: Double) {
        self.limits = limits
        framer = LineFramer(maxLineLength: limits.maxLineLength)
        connectedAt = now
        lastActivity = now
        lastOutputProgress = now
    }

    // MARK: Observations

    /// Bytes this connection holds: input read ahead, requests in flight, replies not yet read.
    public var heldBytes: Int { queuedInputBytes + framer.bufferedByteCount + inFlightBytes + outputBytes }
    /// Reply bytes not yet read by the client (sent to the shell, or waiting for an earlier reply).
    public var outputBytes: Int { outputPending + finishedBytes }
    public var isClosed: Bool { phase == .closed }
    /// True until the connection starts closing (QUIT, a deadline, eviction, a drain).
    public var isOpen: Bool { phase == .open }
    /// True while the shell should read from the socket.
    public var wantsInput: Bool { !readingPaused && phase == .open && !inputEnded }
    /// How many more bytes the shell may read now.
    public var readBudget: Int { max(0, readAhead - queuedInputBytes - framer.bufferedByteCount) }
    /// Requests taken and not yet answered.
    public var unanswered: Int { nextSequence - nextToWrite }

    /// Read-ahead always leaves room for one longest line, or such a line could never complete.
    private var readAhead: Int { max(limits.maxReadAheadBytes, limits.maxLineLength + 2) }

    /// The earliest time at which `tick(now:)` has something to do, if any.
    public var nextDeadline: Double? {
        var deadlines: [Double] = []
        if phase == .open {
            if organisation == nil { deadlines.append(connectedAt + limits.authTimeout) }
            if let lineStartedAt, !readingPaused { deadlines.append(lineStartedAt + limits.lineTimeout) }
            if isQuiet { deadlines.append(lastActivity + limits.idleTimeout) }
        }
        if phase != .closed, let first = firstRequestDeadline { deadlines.append(first) }
        if phase != .closed && outputPending > 0 { deadlines.append(lastOutputProgress + limits.idleTimeout) }
        return deadlines.min()
    }

    /// The earliest deadline of a request in flight.
    private var firstRequestDeadline: Double? {
        var index = deadlineHead
        while index < deadlineOrder.count {
            if let deadline = deadlines[deadlineOrder[index]] { return deadline.at }
            index += 1
        }
        return nil
    }

    /// When a read or write handed to the shell must be answered by (nil: no deadline, or answered):
    /// the shell passes it on, so that the committer and the read pool drop work nobody waits for.
    public func deadline(of sequence: Int) -> Double? { deadlines[sequence]?.at }

    /// Nothing owed to the client and nothing of its in hand: the idle clock may run.
    private var isQuiet: Bool { nextToWrite == nextSequence && frameHead == frames.count && !awaitingAuth }

    // MARK: Inputs

    /// The connection is open: greet the client.
    public mutating func start() -> [Action] {
        var actions: [Action] = []
        emit(Self.greeting, into: &actions)
        return actions
    }

    /// Bytes arrived from the client.
    public mutating func received(_ bytes: ArraySlice<UInt8>, now: Double) -> [Action] {
        guard phase == .open, !bytes.isEmpty else { return [] }
        lastActivity = now
        let new = framer.feed(bytes)
        if !new.isEmpty {
            lineStartedAt = nil
            for frame in new { queuedInputBytes += Self.size(frame) }
            frames.append(contentsOf: new)
            arrivals.append(contentsOf: repeatElement(now, count: new.count))
        }
        if framer.isInsideLine && lineStartedAt == nil { lineStartedAt = now }
        return settle(now: now)
    }

    /// The client closed its sending side: answer what was taken, then close.
    public mutating func inputEnded(now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        inputEnded = true
        lineStartedAt = nil
        return settle(now: now)
    }

    /// The outcome of an `.authenticate` action.
    public mutating func authenticated(sequence: Int, organisation claimed: String, valid: Bool, now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        lastActivity = now
        awaitingAuth = false
        release(sequence)
        var actions: [Action] = []
        if valid {
            if organisation == nil { actions.append(.authenticated(organisation: claimed)) }
            organisation = claimed
            answer(sequence, .ok("AUTH \(claimed)"), into: &actions)
        } else {
            authFailures += 1
            if authFailures >= limits.maxAuthFailures {
                answer(sequence, .error(.auth, "invalid credential; too many failures, closing"), into: &actions)
                beginClosing()
            } else {
                answer(sequence, .error(.auth, "invalid credential"), into: &actions)
            }
        }
        return actions + settle(now: now)
    }

    /// The answer to a `.read` action.
    public mutating func answered(sequence: Int, reply: Reply, now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        // Answered BUSY at its deadline already: this late answer is nobody's.
        if expired.remove(sequence) != nil { return [] }
        lastActivity = now
        readsInFlight -= 1
        release(sequence)
        var actions: [Action] = []
        answer(sequence, reply, into: &actions)
        return actions + settle(now: now)
    }

    /// Answers to `.write` actions (several at once: the committer answers a batch together).
    public mutating func writesAnswered(_ replies: [(sequence: Int, reply: Reply)], now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        let replies = replies.filter { expired.remove($0.sequence) == nil }
        if replies.isEmpty { return [] }
        lastActivity = now
        pendingWrites -= replies.count
        var actions: [Action] = []
        for (sequence, reply) in replies {
            release(sequence)
            answer(sequence, reply, into: &actions)
        }
        return actions + settle(now: now)
    }

    /// The shell wrote what it could; `pending` bytes of output remain unwritten.
    public mutating func flushed(pending: Int, now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        if pending < outputPending || pending == 0 { lastOutputProgress = now }
        outputPending = pending
        return settle(now: now)
    }

    /// The clock moved on: enforce the deadlines.
    public mutating func tick(now: Double) -> [Action] {
        guard phase != .closed else { return [] }
        if outputPending > 0 && now >= lastOutputProgress + limits.idleTimeout {
            // The client stopped reading: nothing more can reach it.
            return abort()
        }
        var expiredNow: [Action] = []
        if let first = firstRequestDeadline, now >= first {
            expiredNow = expireRequests(now: now)
            if phase != .open { return expiredNow + settle(now: now) }
        }
        guard phase == .open else { return [] }
        if !expiredNow.isEmpty { return expiredNow + settle(now: now) }
        if organisation == nil && now >= connectedAt + limits.authTimeout {
            return timeOut(.timeout, "not authenticated within \(Self.seconds(limits.authTimeout)) s; closing", now: now)
        }
        // The line's clock runs only while the server reads: a pause of its own making (the client's
        // earlier requests still in flight) must not be counted against the client.
        if let lineStartedAt, !readingPaused, now >= lineStartedAt + limits.lineTimeout {
            return timeOut(.timeout, "line not completed within \(Self.seconds(limits.lineTimeout)) s; closing", now: now)
        }
        if isQuiet && now >= lastActivity + limits.idleTimeout {
            return timeOut(.timeout, "idle for \(Self.seconds(limits.idleTimeout)) s; closing", now: now)
        }
        return []
    }

    /// Answers BUSY every read and write whose deadline has come; their late answers are dropped.
    /// The request's outcome is unknown to the client (a write may still commit): a retry with the
    /// same key finds out, which is what the idempotency key is for.
    private mutating func expireRequests(now: Double) -> [Action] {
        var actions: [Action] = []
        while deadlineHead < deadlineOrder.count {
            let sequence = deadlineOrder[deadlineHead]
            guard let deadline = deadlines[sequence] else {
                deadlineHead += 1
                continue
            }
            if deadline.at > now { break }
            deadlineHead += 1
            deadlines[sequence] = nil
            expired.insert(sequence)
            if deadline.write { pendingWrites -= 1 } else { readsInFlight -= 1 }
            release(sequence)
            answer(sequence, Self.busy(write: deadline.write, timeout: limits.requestTimeout ?? 0), into: &actions)
        }
        compactDeadlines()
        return actions
    }

    /// The reply to a request whose deadline came before its answer.
    static func busy(write: Bool, timeout: Double) -> Reply {
        if write {
            return .error(.busy, "no answer from the database within \(seconds(timeout)) s; the outcome is unknown: retry with the same key")
        }
        return .error(.busy, "no answer from the database within \(seconds(timeout)) s; retry later")
    }

    private mutating func compactDeadlines() {
        while deadlineHead < deadlineOrder.count && deadlines[deadlineOrder[deadlineHead]] == nil { deadlineHead += 1 }
        if deadlineHead == deadlineOrder.count {
            deadlineOrder.removeAll(keepingCapacity: deadlineOrder.count <= 1_024)
            deadlineHead = 0
        } else if deadlineHead > 1_024 && deadlineHead * 2 > deadlineOrder.count {
            deadlineOrder.removeFirst(deadlineHead)
            deadlineHead = 0
        }
    }

    /// The server makes room for others: a connection still waiting for AUTH is told so and closed.
    /// Returns nothing if this connection authenticated meanwhile (it stays).
    public mutating func evict(now: Double) -> [Action] {
        guard phase == .open, organisation == nil else { return [] }
        return timeOut(.busy, "too many connections waiting to authenticate; closing, retry", now: now)
    }

    /// The server is stopping: take no more requests, answer those taken, then close.
    public mutating func drain(now: Double) -> [Action] {
        guard phase == .open else { return [] }
        beginClosing()
        return settle(now: now)
    }

    // MARK: Taking requests

    /// Takes what can be taken, adjusts reading, and closes when done.
    private mutating func settle(now: Double) -> [Action] {
        var actions: [Action] = []
        takeRequests(into: &actions, now: now)
        compactDeadlines()
        if phase == .closing || (inputEnded && frameHead == frames.count), nextToWrite == nextSequence, outputPending == 0,
            phase != .closed
        {
            phase = .closed
            actions.append(.close)
            return actions
        }
        let shouldRead = phase == .open && !inputEnded && readBudget > 0 && outputBytes < limits.maxOutputBytes
            && inFlightBytes < limits.maxInFlightBytes
        if shouldRead == readingPaused, phase == .open, !inputEnded {
            readingPaused = !shouldRead
            if shouldRead && framer.isInsideLine { lineStartedAt = now }  // the rest of the line may come now
            actions.append(shouldRead ? .resumeReading : .pauseReading)
        }
        return actions
    }

    private var canTakeRequest: Bool {
        phase == .open && !awaitingAuth && unanswered < limits.maxInFlight && inFlightBytes < limits.maxInFlightBytes
            && outputBytes < limits.maxOutputBytes
    }

    private mutating func takeRequests(into actions: inout [Action], now: Double) {
        while frameHead < frames.count && canTakeRequest {
            let frame = frames[frameHead]
            switch frame {
            case .tooLong:
                take(frame)
                answer(next(), .error(.tooLong, "line longer than \(limits.maxLineLength) bytes; it was discarded"), into: &actions)
            case .line(let bytes):
                if bytes.isEmpty {  // a blank line (an extra Enter in nc) asks nothing
                    take(frame)
                    continue
                }
                switch Request.parse(bytes, authenticated: organisation != nil) {
                case .failure(let error):
                    take(frame)
                    answer(next(), error.reply, into: &actions)
                case .success(let request):
                    // A read must see this connection's earlier writes (it waits for them to commit),
                    // and must not see its later ones (a write waits for the reads before it).
                    if request.readsState && (pendingWrites > 0 || readsInFlight >= limits.maxReadsInFlight) { return }
                    if request.writesState && readsInFlight > 0 { return }
                    let arrival = arrivals[frameHead]
                    take(frame)
                    handle(request, cost: bytes.count, arrival: arrival, now: now, into: &actions)
                }
            }
        }
        if frameHead == frames.count && frameHead > 0 {
            frames.removeAll(keepingCapacity: frames.count <= 1_024)
            arrivals.removeAll(keepingCapacity: arrivals.count <= 1_024)
            frameHead = 0
        }
    }

    private mutating func handle(_ request: Request, cost lineBytes: Int, arrival: Double, now: Double, into actions: inout [Action]) {
        let sequence = next()
        switch request {
        case .auth, .ping, .quit:
            return handleOpen(request, sequence: sequence, cost: lineBytes, into: &actions)
        case .consultations, .submit, .withdraw, .status, .receipt:
            break
        }
        // `Request.parse(_:authenticated:)` refuses these before AUTH; this keeps that true here too.
        guard let organisation else {
            return answer(sequence, .error(.noAuth, "AUTH <organisation-id> <token> first"), into: &actions)
        }
        let deadline = limits.requestTimeout.map { arrival + $0 }
        if let deadline, now >= deadline {
            // Held back past its deadline behind earlier requests (which were answered BUSY at theirs).
            return answer(sequence, Self.busy(write: request.writesState, timeout: limits.requestTimeout ?? 0), into: &actions)
        }
        if let deadline {
            deadlines[sequence] = (deadline, request.writesState)
            deadlineOrder.append(sequence)
        }
        switch request {
        case .auth, .ping, .quit:
            break
        case .consultations:
            read(.consultations, sequence, lineBytes, &actions)
        case .status(let consultation, let key):
            read(.status(organisation: organisation, consultation: consultation, key: key), sequence, lineBytes, &actions)
        case .receipt(let consultation, let key):
            read(.receipt(organisation: organisation, consultation: consultation, key: key), sequence, lineBytes, &actions)
        case .submit(let consultation, let key, let body):
            write(.submit(organisation: organisation, consultation: consultation, key: key, body: body), sequence, lineBytes, &actions)
        case .withdraw(let consultation, let key, let reason):
            write(.withdraw(organisation: organisation, consultation: consultation, key: key, reason: reason), sequence, lineBytes, &actions)
        }
    }

    /// The requests allowed before AUTH (and after it).
    private mutating func handleOpen(_ request: Request, sequence: Int, cost: Int, into actions: inout [Action]) {
        switch request {
        case .ping:
            answer(sequence, .ok("PONG"), into: &actions)
        case .quit:
            answer(sequence, .ok("BYE"), into: &actions)
            beginClosing()
        case .auth(let claimed, let token):
            // Later requests wait for the outcome: they may depend on who is authenticated.
            awaitingAuth = true
            hold(sequence, cost: cost)
            actions.append(.authenticate(sequence: sequence, organisation: claimed, token: token))
        case .consultations, .submit, .withdraw, .status, .receipt:
            preconditionFailure("only AUTH, PING and QUIT are handled here")
        }
    }

    private mutating func read(_ read: Read, _ sequence: Int, _ lineBytes: Int, _ actions: inout [Action]) {
        hold(sequence, cost: lineBytes + 256)
        readsInFlight += 1
        actions.append(.read(sequence: sequence, read))
    }

    private mutating func write(_ write: Write, _ sequence: Int, _ lineBytes: Int, _ actions: inout [Action]) {
        // The request, then the event built from it, each about the size of the line.
        let cost = 2 * lineBytes + 512
        hold(sequence, cost: cost)
        pendingWrites += 1
        actions.append(.write(sequence: sequence, write, cost: cost))
    }

    // MARK: Bookkeeping

    private mutating func next() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    private mutating func take(_ frame: LineFramer.Frame) {
        frameHead += 1
        queuedInputBytes -= Self.size(frame)
    }

    private static func size(_ frame: LineFramer.Frame) -> Int {
        switch frame {
        case .line(let bytes): return bytes.count + 1
        case .tooLong: return 1
        }
    }

    private mutating func hold(_ sequence: Int, cost: Int) {
        costs[sequence] = cost
        inFlightBytes += cost
    }

    private mutating func release(_ sequence: Int) {
        if let cost = costs.removeValue(forKey: sequence) { inFlightBytes -= cost }
        deadlines[sequence] = nil
    }

    /// Records a reply and sends every reply that is next in order, in one piece.
    private mutating func answer(_ sequence: Int, _ reply: Reply, into actions: inout [Action]) {
        guard phase != .closed else { return }
        let line = Array(reply.line.utf8)
        if sequence == nextToWrite {
            var ready = line
            nextToWrite += 1
            while let next = finished.removeValue(forKey: nextToWrite) {
                let bytes = Array(next.line.utf8)
                finishedBytes -= bytes.count
                ready += bytes
                nextToWrite += 1
            }
            emit(ready, into: &actions)
        } else {
            finished[sequence] = reply
            finishedBytes += line.count
        }
    }

    private mutating func emit(_ bytes: [UInt8], into actions: inout [Action]) {
        outputPending += bytes.count
        actions.append(.send(bytes))
    }

    private mutating func beginClosing() {
        guard phase == .open else { return }
        phase = .closing
        frames.removeAll()
        arrivals.removeAll()
        frameHead = 0
        queuedInputBytes = 0
        lineStartedAt = nil
    }

    /// Says why (if the reply can go out now, in order) and closes; else closes at once.
    private mutating func timeOut(_ code: ErrorCode, _ message: String, now: Double) -> [Action] {
        guard nextToWrite == nextSequence else { return abort() }
        var actions: [Action] = []
        answer(next(), .error(code, message), into: &actions)
        beginClosing()
        return actions + settle(now: now)
    }

    private mutating func abort() -> [Action] {
        phase = .closed
        return [.close]
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
