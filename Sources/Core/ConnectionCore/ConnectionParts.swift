import DequeModule
import LineProtocol

// The parts of a connection's state, each with one job, so that the machine reads as their
// composition: what was read and not yet taken (`Input`), who the client is (`Authentication`), which
// replies may go out (`ReplyOrder`) and the bytes held for requests in hand (`ByteBudget`).

/// What was read from the client and framed, not yet taken as requests. Only an open connection has
/// it: one that starts closing drops what it had not taken.
struct Input: Sendable {
    var framer: LineFramer
    /// Complete lines (or too-long markers), oldest first, each with when it arrived (its newline
    /// read): a request's deadline counts from then, so one held back behind earlier requests is not
    /// given a fresh timeout when it is finally taken.
    private(set) var frames: Deque<(frame: LineFramer.Frame, arrival: Double)> = []
    /// Bytes of framed lines not yet taken.
    private(set) var queuedBytes = 0
    /// The client closed its sending side.
    var ended = false
    /// The shell was told to stop reading (and not yet to resume).
    var paused = false
    /// When the line being read began to arrive (its clock runs only while the shell reads).
    var lineStartedAt: Double?

    init(maxLineLength: Int) {
        framer = LineFramer(maxLineLength: maxLineLength)
    }

    /// Bytes held: lines waiting to be taken and the line being read.
    var heldBytes: Int { queuedBytes + framer.bufferedByteCount }

    /// Frames what arrived; returns whether a line was completed.
    mutating func feed(_ bytes: ArraySlice<UInt8>, now: Double) {
        let new = framer.feed(bytes)
        if !new.isEmpty {
            lineStartedAt = nil
            for frame in new { queuedBytes += Self.size(frame) }
            frames.append(contentsOf: new.map { ($0, now) })
        }
        if framer.isInsideLine && lineStartedAt == nil { lineStartedAt = now }
    }

    /// Removes the oldest frame (the one `frames.first` showed).
    mutating func take() {
        guard let taken = frames.popFirst() else { return }
        queuedBytes -= Self.size(taken.frame)
    }

    /// A frame's share of the read-ahead: its bytes and the newline.
    private static func size(_ frame: LineFramer.Frame) -> Int {
        switch frame {
        case .line(let bytes): return bytes.count + 1
        case .tooLong: return 1
        }
    }
}

/// Who the client is, and how AUTH has gone.
struct Authentication: Sendable {
    /// Set by the first AUTH that succeeds (a later one may name another organisation).
    var organisation: String?
    var failures = 0
    /// An AUTH is being checked: later requests wait for its outcome (they may depend on who is authenticated).
    var checking = false
}

/// Replies in request order: each request gets a sequence number, answers may come in any order (a
/// STATUS before a batch commit), and only the contiguous prefix goes out.
struct ReplyOrder: Sendable {
    private(set) var nextSequence = 0
    private(set) var nextToWrite = 0
    /// Answers that wait for an earlier one, by sequence.
    private var finished: [Int: Reply] = [:]
    private(set) var finishedBytes = 0
    /// Reply bytes handed to the shell and not yet written to the socket.
    var outputPending = 0

    /// Requests taken and not yet answered.
    var unanswered: Int { nextSequence - nextToWrite }
    /// Reply bytes not yet read by the client (sent to the shell, or waiting for an earlier reply).
    var outputBytes: Int { outputPending + finishedBytes }

    /// A sequence number for the next request.
    mutating func take() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// Records an answer; returns the bytes that may now go out, in order, in one piece (nil: an
    /// earlier reply is still owed).
    mutating func answer(_ sequence: Int, _ reply: Reply) -> [UInt8]? {
        let line = Array(reply.line.utf8)
        guard sequence == nextToWrite else {
            finished[sequence] = reply
            finishedBytes += line.count
            return nil
        }
        var ready = line
        nextToWrite += 1
        while let next = finished.removeValue(forKey: nextToWrite) {
            let bytes = Array(next.line.utf8)
            finishedBytes -= bytes.count
            ready += bytes
            nextToWrite += 1
        }
        return ready
    }
}

/// The bytes held for requests handed to the shell and not yet answered, by sequence.
struct ByteBudget: Sendable {
    private var costs: [Int: Int] = [:]
    private(set) var inFlight = 0

    mutating func hold(_ sequence: Int, cost: Int) {
        costs[sequence] = cost
        inFlight += cost
    }

    mutating func release(_ sequence: Int) {
        if let cost = costs.removeValue(forKey: sequence) { inFlight -= cost }
    }
}

/// When each read and write handed to the shell must be answered by (its line's arrival plus the
/// request timeout): past it, the machine answers BUSY itself and drops the late answer.
struct RequestDeadlines: Sendable {
    private var deadlines: [Int: (at: Double, write: Bool)] = [:]
    /// The same sequences in the order taken, which is deadline order (arrivals never go back in
    /// time); answered ones are skipped, and dropped from the front by `compact`.
    private var order: Deque<Int> = []
    /// Answered BUSY at their deadline; their real answer has not come yet (it is dropped when it does).
    private var expired: Set<Int> = []

    /// The earliest deadline of a request still in flight.
    var first: Double? { order.lazy.compactMap { deadlines[$0]?.at }.first }

    func deadline(of sequence: Int) -> Double? { deadlines[sequence]?.at }

    mutating func set(_ sequence: Int, at deadline: Double, write: Bool) {
        deadlines[sequence] = (deadline, write)
        order.append(sequence)
    }

    /// The request was answered (or released): it has no deadline any more.
    mutating func clear(_ sequence: Int) { deadlines[sequence] = nil }

    /// True when `sequence` was already answered BUSY at its deadline, so its real answer is nobody's.
    mutating func takeExpired(_ sequence: Int) -> Bool { expired.remove(sequence) != nil }

    /// The requests whose deadline has come by `now`, in order; each is then expired.
    mutating func due(now: Double) -> [(sequence: Int, write: Bool)] {
        var due: [(sequence: Int, write: Bool)] = []
        while let sequence = order.first {
            guard let deadline = deadlines[sequence] else {
                order.removeFirst()
                continue
            }
            if deadline.at > now { break }
            order.removeFirst()
            deadlines[sequence] = nil
            expired.insert(sequence)
            due.append((sequence, deadline.write))
        }
        return due
    }

    /// Drops answered requests from the front of the order.
    mutating func compact() {
        while let sequence = order.first, deadlines[sequence] == nil { order.removeFirst() }
    }
}
