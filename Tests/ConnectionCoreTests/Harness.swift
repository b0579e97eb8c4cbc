import ConnectionCore
import LineProtocol

/// Drives a state machine as the Dispatch shell would, with a fake clock and a fake socket: bytes the
/// client sent wait in `inbound` until the machine wants them, replies collect in `unread` until the
/// client reads them, and the requests the machine hands out wait to be answered by the test.
struct Harness {
    var machine: ConnectionStateMachine
    var now = 0.0
    /// Bytes sent by the client and not yet read by the server.
    var inbound: [UInt8] = []
    /// Reply bytes the server wrote that the client has not read (the socket's buffers, here unbounded).
    var unread: [UInt8] = []
    /// Of those, the bytes still in the server's output buffer (the client is not reading).
    var pendingOut = 0
    /// Whether the client reads its replies as they come.
    var clientReads = true
    var reading = true
    var closed = false
    var auths: [(sequence: Int, organisation: String, token: String?)] = []
    var reads: [(sequence: Int, read: ConnectionStateMachine.Read)] = []
    var writes: [(sequence: Int, write: ConnectionStateMachine.Write, cost: Int)] = []
    var authenticatedAs: [String] = []
    /// The most bytes the machine held at any point.
    var peakHeld = 0

    init(_ limits: ConnectionLimits = ConnectionLimits()) {
        machine = ConnectionStateMachine(limits: limits, now: 0)
        perform(machine.start())
    }

    /// Replies the client has received so far, as lines; reading them empties the buffer.
    mutating func replies() -> [String] {
        let text = String(decoding: unread, as: UTF8.self)
        unread = []
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    mutating func send(_ text: String) { send(Array(text.utf8)) }

    mutating func send(_ bytes: [UInt8]) {
        inbound += bytes
        pump()
    }

    /// Lets the server read as much as it wants of what the client sent.
    mutating func pump() {
        while reading && !closed && !inbound.isEmpty && machine.wantsInput {
            let count = min(65_536, machine.readBudget, inbound.count)
            if count == 0 { break }
            let chunk = inbound[..<count]
            let actions = machine.received(chunk, now: now)
            inbound.removeFirst(count)
            perform(actions)
        }
    }

    mutating func endInput() { perform(machine.inputEnded(now: now)) }

    mutating func advance(to time: Double) {
        now = time
        perform(machine.tick(now: now))
    }

    mutating func authenticate(valid: Bool) {
        let auth = auths.removeFirst()
        perform(machine.authenticated(sequence: auth.sequence, organisation: auth.organisation, valid: valid, now: now))
    }

    mutating func answerRead(_ reply: Reply) {
        let read = reads.removeFirst()
        perform(machine.answered(sequence: read.sequence, reply: reply, now: now))
    }

    mutating func answerWrites(_ count: Int? = nil, _ reply: (Int) -> Reply = { .ok("SUBMIT k \($0)") }) {
        let taken = Array(writes.prefix(count ?? writes.count))
        writes.removeFirst(taken.count)
        perform(machine.writesAnswered(taken.map { ($0.sequence, reply($0.sequence)) }, now: now))
    }

    /// The client starts (or stops) reading its replies.
    mutating func setClientReads(_ reads: Bool) {
        clientReads = reads
        if reads {
            pendingOut = 0
            perform(machine.flushed(pending: 0, now: now))
        }
    }

    mutating func perform(_ actions: [ConnectionStateMachine.Action]) {
        var sent = false
        for action in actions {
            precondition(!closed, "an action after close: \(action)")
            switch action {
            case .send(let bytes):
                unread += bytes
                pendingOut += bytes.count
                sent = true
            case .pauseReading: reading = false
            case .resumeReading: reading = true
            case .authenticate(let sequence, let organisation, let token): auths.append((sequence, organisation, token))
            case .read(let sequence, let read): reads.append((sequence, read))
            case .write(let sequence, let write, let cost): writes.append((sequence, write, cost))
            case .authenticated(let organisation): authenticatedAs.append(organisation)
            case .close: closed = true
            }
        }
        peakHeld = max(peakHeld, machine.heldBytes)
        if sent && !closed {
            // The shell writes at once; what the client does not read stays pending.
            if clientReads { pendingOut = 0 }
            perform(machine.flushed(pending: pendingOut, now: now))
        }
        if !closed { pump() }
    }
}
