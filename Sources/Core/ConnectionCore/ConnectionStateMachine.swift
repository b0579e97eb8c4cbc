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

    /// Where the connection is; each case carries what only it has.
    enum State: Sendable {
        /// Taking requests, with what was read and not yet taken.
        case open(Input)
        /// No more requests are taken (QUIT, a deadline, eviction, a drain); close once everything owed is sent.
        case closing
        case closed
        /// Only inside `modifyInput`, while the open state's input is changed in place (no copy).
        case modifying
    }

    public static let greeting = Array("OK consultd 1 ready\n".utf8)

    public let limits: ConnectionLimits
    private var state: State
    private var auth = Authentication()
    private var replies = ReplyOrder()
    private var budget = ByteBudget()
    private var deadlines = RequestDeadlines()
    /// Writes handed to the committer, and reads to the read pool, not yet answered: a read waits for
    /// the connection's earlier writes, a write for its earlier reads.
    private var pendingWrites = 0
    private var readsInFlight = 0

    private let connectedAt: Double
    /// The last input, or the last answer to a request (idleness counts from whichever is later).
    private var lastActivity: Double
    private var lastOutputProgress: Double

    public init(limits: ConnectionLimits, now: Double) {
        self.limits = limits
        state = .open(Input(maxLineLength: limits.maxLineLength))
        connectedAt = now
        lastActivity = now
        lastOutputProgress = now
    }

    // MARK: Observations

    /// The organisation of the first AUTH that succeeded.
    public var organisation: String? { auth.organisation }
    /// Bytes held for requests in flight.
    public var inFlightBytes: Int { budget.inFlight }
    /// Bytes this connection holds: input read ahead, requests in flight, replies not yet read.
    public var heldBytes: Int { (input?.heldBytes ?? 0) + budget.inFlight + outputBytes }
    /// Reply bytes not yet read by the client (sent to the shell, or waiting for an earlier reply).
    public var outputBytes: Int { replies.outputBytes }
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }
    /// True until the connection starts closing (QUIT, a deadline, eviction, a drain).
    public var isOpen: Bool { input != nil }
    /// True while the shell should read from the socket.
    public var wantsInput: Bool { input.map { !$0.paused && !$0.ended } ?? false }
    /// How many more bytes the shell may read now.
    public var readBudget: Int { max(0, readAhead - (input?.heldBytes ?? 0)) }
    /// Requests taken and not yet answered.
    public var unanswered: Int { replies.unanswered }

    /// The open state's input (nil once closing).
    private var input: Input? {
        if case .open(let input) = state { return input }
        return nil
    }

    /// Read-ahead always leaves room for one longest line, or such a line could never complete.
    private var readAhead: Int { max(limits.maxReadAheadBytes, limits.maxLineLength + 2) }

    /// The earliest time at which `tick(now:)` has something to do, if any.
    public var nextDeadline: Double? {
        var deadlines: [Double] = []
        if let input {
            if auth.organisation == nil { deadlines.append(connectedAt + limits.authTimeout) }
            if let started = input.lineStartedAt, !input.paused { deadlines.append(started + limits.lineTimeout) }
            if isQuiet { deadlines.append(lastActivity + limits.idleTimeout) }
        }
        if !isClosed, let first = self.deadlines.first { deadlines.append(first) }
        if !isClosed && replies.outputPending > 0 { deadlines.append(lastOutputProgress + limits.idleTimeout) }
        return deadlines.min()
    }

    /// When a read or write handed to the shell must be answered by (nil: no deadline, or answered):
    /// the shell passes it on, so that the committer and the read pool drop work nobody waits for.
    public func deadline(of sequence: Int) -> Double? { deadlines.deadline(of: sequence) }

    /// Nothing owed to the client and nothing of its in hand: the idle clock may run.
    private var isQuiet: Bool { replies.unanswered == 0 && (input?.frames.isEmpty ?? true) && !auth.checking }

    // MARK: Inputs

    /// The connection is open: greet the client.
    public mutating func start() -> [Action] {
        var actions: [Action] = []
        emit(Self.greeting, into: &actions)
        return actions
    }

    /// Bytes arrived from the client.
    public mutating func received(_ bytes: ArraySlice<UInt8>, now: Double) -> [Action] {
        guard isOpen, !bytes.isEmpty else { return [] }
        lastActivity = now
        modifyInput { $0.feed(bytes, now: now) }
        return settle(now: now)
    }

    /// The client closed its sending side: answer what was taken, then close.
    public mutating func inputEnded(now: Double) -> [Action] {
        guard !isClosed else { return [] }
        modifyInput {
            $0.ended = true
            $0.lineStartedAt = nil
        }
        return settle(now: now)
    }

    /// The outcome of an `.authenticate` action.
    public mutating func authenticated(sequence: Int, organisation claimed: String, valid: Bool, now: Double) -> [Action] {
        guard !isClosed else { return [] }
        lastActivity = now
        auth.checking = false
        release(sequence)
        var actions: [Action] = []
        if valid {
            if auth.organisation == nil { actions.append(.authenticated(organisation: claimed)) }
            auth.organisation = claimed
            answer(sequence, .ok("AUTH \(claimed)"), into: &actions)
        } else {
            auth.failures += 1
            if auth.failures >= limits.maxAuthFailures {
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
        guard !isClosed else { return [] }
        // Answered BUSY at its deadline already: this late answer is nobody's.
        if deadlines.takeExpired(sequence) { return [] }
        lastActivity = now
        readsInFlight -= 1
        release(sequence)
        var actions: [Action] = []
        answer(sequence, reply, into: &actions)
        return actions + settle(now: now)
    }

    /// Answers to `.write` actions (several at once: the committer answers a batch together).
    public mutating func writesAnswered(_ answers: [(sequence: Int, reply: Reply)], now: Double) -> [Action] {
        guard !isClosed else { return [] }
        let answers = answers.filter { !deadlines.takeExpired($0.sequence) }
        if answers.isEmpty { return [] }
        lastActivity = now
        pendingWrites -= answers.count
        var actions: [Action] = []
        for (sequence, reply) in answers {
            release(sequence)
            answer(sequence, reply, into: &actions)
        }
        return actions + settle(now: now)
    }

    /// The shell wrote what it could; `pending` bytes of output remain unwritten.
    public mutating func flushed(pending: Int, now: Double) -> [Action] {
        guard !isClosed else { return [] }
        if pending < replies.outputPending || pending == 0 { lastOutputProgress = now }
        replies.outputPending = pending
        return settle(now: now)
    }

    /// The clock moved on: enforce the deadlines.
    public mutating func tick(now: Double) -> [Action] {
        guard !isClosed else { return [] }
        if replies.outputPending > 0 && now >= lastOutputProgress + limits.idleTimeout {
            // The client stopped reading: nothing more can reach it.
            return abort()
        }
        var expiredNow: [Action] = []
        if let first = deadlines.first, now >= first {
            expiredNow = expireRequests(now: now)
            if !isOpen { return expiredNow + settle(now: now) }
        }
        guard let input else { return [] }
        if !expiredNow.isEmpty { return expiredNow + settle(now: now) }
        if auth.organisation == nil && now >= connectedAt + limits.authTimeout {
            return timeOut(.timeout, "not authenticated within \(Self.seconds(limits.authTimeout)) s; closing", now: now)
        }
        // The line's clock runs only while the server reads: a pause of its own making (the client's
        // earlier requests still in flight) must not be counted against the client.
        if let started = input.lineStartedAt, !input.paused, now >= started + limits.lineTimeout {
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
        for (sequence, write) in deadlines.due(now: now) {
            if write { pendingWrites -= 1 } else { readsInFlight -= 1 }
            budget.release(sequence)
            answer(sequence, Self.busy(write: write, timeout: limits.requestTimeout ?? 0), into: &actions)
        }
        return actions
    }

    /// The reply to a request whose deadline came before its answer.
    static func busy(write: Bool, timeout: Double) -> Reply {
        if write {
            return .error(.busy, "no answer from the database within \(seconds(timeout)) s; the outcome is unknown: retry with the same key")
        }
        return .error(.busy, "no answer from the database within \(seconds(timeout)) s; retry later")
    }

    /// The server makes room for others: a connection still waiting for AUTH is told so and closed.
    /// Returns nothing if this connection authenticated meanwhile (it stays).
    public mutating func evict(now: Double) -> [Action] {
        guard isOpen, auth.organisation == nil else { return [] }
        return timeOut(.busy, "too many connections waiting to authenticate; closing, retry", now: now)
    }

    /// The server is stopping: take no more requests, answer those taken, then close.
    public mutating func drain(now: Double) -> [Action] {
        guard isOpen else { return [] }
        beginClosing()
        return settle(now: now)
    }

    // MARK: Taking requests

    /// Takes what can be taken, adjusts reading, and closes when done.
    private mutating func settle(now: Double) -> [Action] {
        var actions: [Action] = []
        takeRequests(into: &actions, now: now)
        deadlines.compact()
        let doneReading: Bool
        switch state {
        case .open(let input): doneReading = input.ended && input.frames.isEmpty
        case .closing: doneReading = true
        case .closed, .modifying: return actions
        }
        if doneReading, replies.unanswered == 0, replies.outputPending == 0 {
            state = .closed
            actions.append(.close)
            return actions
        }
        guard let input, !input.ended else { return actions }
        let shouldRead = readBudget > 0 && outputBytes < limits.maxOutputBytes && budget.inFlight < limits.maxInFlightBytes
        if shouldRead == input.paused {
            modifyInput {
                $0.paused = !shouldRead
                if shouldRead && $0.framer.isInsideLine { $0.lineStartedAt = now }  // the rest of the line may come now
            }
            actions.append(shouldRead ? .resumeReading : .pauseReading)
        }
        return actions
    }

    private var canTakeRequest: Bool {
        isOpen && !auth.checking && replies.unanswered < limits.maxInFlight && budget.inFlight < limits.maxInFlightBytes
            && outputBytes < limits.maxOutputBytes
    }

    private mutating func takeRequests(into actions: inout [Action], now: Double) {
        while canTakeRequest, let (frame, arrival) = input?.frames.first {
            switch frame {
            case .tooLong:
                modifyInput { $0.take() }
                answer(replies.take(), .error(.tooLong, "line longer than \(limits.maxLineLength) bytes; it was discarded"), into: &actions)
            case .line(let bytes):
                if bytes.isEmpty {  // a blank line (an extra Enter in nc) asks nothing
                    modifyInput { $0.take() }
                    continue
                }
                switch Request.parse(bytes, authenticated: auth.organisation != nil) {
                case .failure(let error):
                    modifyInput { $0.take() }
                    answer(replies.take(), error.reply, into: &actions)
                case .success(let request):
                    // A read must see this connection's earlier writes (it waits for them to commit),
                    // and must not see its later ones (a write waits for the reads before it).
                    if request.readsState && (pendingWrites > 0 || readsInFlight >= limits.maxReadsInFlight) { return }
                    if request.writesState && readsInFlight > 0 { return }
                    modifyInput { $0.take() }
                    handle(request, cost: bytes.count, arrival: arrival, now: now, into: &actions)
                }
            }
        }
    }

    private mutating func handle(_ request: Request, cost lineBytes: Int, arrival: Double, now: Double, into actions: inout [Action]) {
        let sequence = replies.take()
        switch request {
        case .auth, .ping, .quit:
            return handleOpen(request, sequence: sequence, cost: lineBytes, into: &actions)
        case .consultations, .submit, .withdraw, .status, .receipt:
            break
        }
        // `Request.parse(_:authenticated:)` refuses these before AUTH; this keeps that true here too.
        guard let organisation = auth.organisation else {
            return answer(sequence, .error(.noAuth, "AUTH <organisation-id> <token> first"), into: &actions)
        }
        if let timeout = limits.requestTimeout {
            // Held back past its deadline behind earlier requests (which were answered BUSY at theirs).
            guard now < arrival + timeout else {
                return answer(sequence, Self.busy(write: request.writesState, timeout: timeout), into: &actions)
            }
            deadlines.set(sequence, at: arrival + timeout, write: request.writesState)
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
            auth.checking = true
            budget.hold(sequence, cost: cost)
            actions.append(.authenticate(sequence: sequence, organisation: claimed, token: token))
        case .consultations, .submit, .withdraw, .status, .receipt:
            preconditionFailure("only AUTH, PING and QUIT are handled here")
        }
    }

    private mutating func read(_ read: Read, _ sequence: Int, _ lineBytes: Int, _ actions: inout [Action]) {
        budget.hold(sequence, cost: lineBytes + 256)
        readsInFlight += 1
        actions.append(.read(sequence: sequence, read))
    }

    private mutating func write(_ write: Write, _ sequence: Int, _ lineBytes: Int, _ actions: inout [Action]) {
        // The request, then the event built from it, each about the size of the line.
        let cost = 2 * lineBytes + 512
        budget.hold(sequence, cost: cost)
        pendingWrites += 1
        actions.append(.write(sequence: sequence, write, cost: cost))
    }

    // MARK: Changing state

    /// Changes the open state's input in place: the state holds no second reference to it meanwhile,
    /// so its buffers are not copied. Does nothing once the connection is closing.
    private mutating func modifyInput(_ body: (inout Input) -> Void) {
        guard case .open(var input) = state else { return }
        state = .modifying
        body(&input)
        state = .open(input)
    }

    /// The request is answered: the bytes it held, and its deadline, are let go.
    private mutating func release(_ sequence: Int) {
        budget.release(sequence)
        deadlines.clear(sequence)
    }

    /// Records a reply and sends every reply that is next in order, in one piece.
    private mutating func answer(_ sequence: Int, _ reply: Reply, into actions: inout [Action]) {
        guard !isClosed, let ready = replies.answer(sequence, reply) else { return }
        emit(ready, into: &actions)
    }

    private mutating func emit(_ bytes: [UInt8], into actions: inout [Action]) {
        replies.outputPending += bytes.count
        actions.append(.send(bytes))
    }

    /// Takes no more requests; what was read and not taken is dropped.
    private mutating func beginClosing() {
        guard isOpen else { return }
        state = .closing
    }

    /// Says why (if the reply can go out now, in order) and closes; else closes at once.
    private mutating func timeOut(_ code: ErrorCode, _ message: String, now: Double) -> [Action] {
        guard replies.unanswered == 0 else { return abort() }
        var actions: [Action] = []
        answer(replies.take(), .error(code, message), into: &actions)
        beginClosing()
        return actions + settle(now: now)
    }

    private mutating func abort() -> [Action] {
        state = .closed
        return [.close]
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
