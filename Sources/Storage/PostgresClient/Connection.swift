import CLibPQ
import Foundation

/// A notification received on a channel the connection listens to.
public struct Notification: Equatable, Sendable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let processID: Int32
}

/// How long a session's calls may take, and whether a lost session may be replaced.
///
/// The defaults suit a command-line tool (no bound on a call). The daemon bounds everything: a
/// frozen or unreachable server must cost a request an error after a few seconds, not a hang.
public struct SessionOptions: Sendable {
    /// Seconds to open a session (libpq's `connect_timeout`); nil leaves libpq's default (none).
    public var connectTimeout: Int? = nil
    /// The client's own bound on one call, in seconds (sending, the server's work, receiving). On
    /// expiry the session is closed (its outcome is unknown) and the call throws `.timedOut`. This
    /// is what bounds a call against a server that is stopped or unreachable, where no server-side
    /// timeout can fire. nil: no bound.
    public var callTimeout: Double? = nil
    /// The server's `statement_timeout`, in seconds (SQLSTATE 57014 when exceeded); nil: server default.
    public var statementTimeout: Double? = nil
    /// The server's `lock_timeout`, in seconds (SQLSTATE 55P03 when exceeded); nil: server default.
    public var lockTimeout: Double? = nil
    /// The server's `idle_in_transaction_session_timeout`, in seconds; nil: server default.
    public var idleInTransactionTimeout: Double? = nil
    /// TCP keepalives (libpq's `keepalives_idle`, `_interval`, `_count`), so a peer that vanished
    /// from the network is noticed; nil leaves the operating system's defaults.
    public var keepalive: (idle: Int, interval: Int, count: Int)? = nil
    /// When false, a session that was lost is never replaced behind the caller's back: every later
    /// call throws `.connectionLost`. For sessions that hold session-level locks (leadership,
    /// migrations), whose loss must end what the lock protected.
    public var reconnects = true

    public init() {}

    /// A tool's session: no bounds beyond libpq's own.
    public static let tool = SessionOptions()

    /// The daemon's bounds: `timeout` seconds for a call (the server's statement timeout a little less,
    /// so that it normally fires first and leaves the session usable), a shorter lock timeout,
    /// keepalives and a connect timeout.
    public static func bounded(_ timeout: Double, reconnects: Bool = true) -> SessionOptions {
        var options = SessionOptions()
        options.connectTimeout = max(1, Int(timeout.rounded(.up)))
        options.callTimeout = timeout
        options.statementTimeout = max(0.001, timeout * 0.8)
        options.lockTimeout = max(0.001, timeout * 0.5)
        options.idleInTransactionTimeout = max(1, timeout * 2)
        options.keepalive = (idle: 30, interval: 10, count: 3)
        options.reconnects = reconnects
        return options
    }
}

/// A connection to PostgreSQL through libpq: the one door to the database that the rest of the code uses.
///
/// Statements always travel with parameters (`PQsendQueryParams`), never spliced into SQL. A
/// connection is used by one thread at a time. Every call runs on a non-blocking socket and waits
/// with `poll`, so `SessionOptions.callTimeout` bounds it even when the server is stopped. When the
/// server goes away between calls, the next call notices (before sending anything) and opens a new
/// connection, listening again on the same channels; it does not inside a transaction (the
/// transaction is lost and the caller must know), nor when `reconnects` is off.
public final class Connection {
    private var handle: OpaquePointer?
    private let conninfo: String
    public let options: SessionOptions
    private var channels: [String] = []
    private var pending: [Notification] = []
    private var inTransaction = false
    /// Set once a session without `reconnects` was lost: it stays lost.
    private var lostForGood = false
    /// Inside `withoutReconnecting`: the session holds state that a new one would not have.
    private var pinned = 0
    /// When the statement `send` sent must have its result (nil: no call timeout).
    private var sentDeadline: Date?
    /// Set when the server sent a FATAL message while we were idle (it is about to close).
    fileprivate var serverSaidGoodbye = false
    /// Called on the new session each time a lost one is replaced, before the caller's statement:
    /// behind a multi-host URL the new session may be on another server (a promoted standby), and
    /// whatever the caller derived from the old one may be ahead of it (`SynchronousStandby.identity`).
    public var onReconnect: ((Connection) throws -> Void)?

    /// Connects using a `postgresql://` URL or a `key=value` conninfo string; the empty string
    /// means the standard `PG*` environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...).
    public init(_ conninfo: String = "", options: SessionOptions = .tool) throws {
        self.conninfo = conninfo
        self.options = options
        try open()
    }

    /// Connects, retrying with doubling delays while the server cannot be reached.
    public static func connect(
        _ conninfo: String = "", options: SessionOptions = .tool, attempts: Int, initialDelay: Double = 0.2,
        onRetry: (Int, PostgresError) -> Void = { _, _ in }
    ) throws -> Connection {
        var delay = initialDelay
        for attempt in 1... {
            do {
                return try Connection(conninfo, options: options)
            } catch let error as PostgresError where attempt < attempts && error.kind == .connectionFailed {
                onRetry(attempt, error)
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
        fatalError("unreachable")
    }

    deinit { close() }

    /// Runs `body` with reconnection off: if the session is lost meanwhile, every call in `body`
    /// throws `.connectionLost` instead of silently running on a new session that lacks what the
    /// old one held (a session-level lock). Afterwards the connection may reconnect again.
    public func withoutReconnecting<T>(_ body: () throws -> T) rethrows -> T {
        pinned += 1
        defer {
            pinned -= 1
            if pinned == 0 && options.reconnects { lostForGood = false }
        }
        return try body()
    }

    /// Closes the connection; any later call reconnects.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    /// The server's process id for this session (useful to terminate it in tests).
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    // MARK: Statements

    /// Runs one statement with parameters (`$1`, `$2`, ... in `sql`).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresEncodable?] = []) throws -> QueryResult {
        try send(sql, parameters)
        return try receive()
    }

    /// `execute` in two steps: sends the statement and returns once the server has it, so that the
    /// caller works while the server does (the group committer encodes its next batch while the
    /// database appends the last); `receive` then waits for the result. Nothing else may be sent on
    /// the connection in between. The call's timeout runs from `send`.
    public func send(_ sql: String, _ parameters: [PostgresEncodable?] = []) throws {
        let conn = try ready()
        let texts = try parameterTexts(parameters)
        let sent = withCStrings(texts) { values in
            PQsendQueryParams(conn, sql, Int32(values.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(conn, .connectionLost) }
        sentDeadline = deadline()
        try flushOutput(conn, deadline: sentDeadline)
    }

    /// The result of the statement `send` sent.
    public func receive() throws -> QueryResult {
        guard let conn = handle else { throw PostgresError(.connectionLost, message: "the session was closed before its result came") }
        var rows: QueryResult?
        var failure: PostgresError?
        try results(conn, deadline: sentDeadline) { result in
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                if failure == nil { rows = QueryResult(copying: result) }
            default:
                if failure == nil { failure = error(from: result, conn) }
            }
        }
        if let failure { throw failure }
        guard let rows else { throw connectionError(conn, .connectionLost) }
        collectNotifications(conn)
        return rows
    }

    /// Runs a script of several statements through the simple query protocol. Only for SQL that
    /// ships with the program (the files in `schema/`): it takes no parameters, so never build
    /// `sql` from input.
    public func executeScript(_ sql: String) throws {
        let conn = try ready()
        guard PQsendQuery(conn, sql) == 1 else { throw connectionError(conn, .connectionLost) }
        // The server stops at the first failing statement: its error is the one to report.
        var failure: PostgresError?
        try results(conn, deadline: deadline()) { result in
            let status = PQresultStatus(result)
            if status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && failure == nil {
                failure = error(from: result, conn)
            }
        }
        if let failure { throw failure }
        if PQstatus(conn) != CONNECTION_OK { throw connectionError(conn, .connectionLost) }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<T>(_ body: (Connection) throws -> T) throws -> T {
        precondition(!inTransaction, "transactions do not nest")
        try execute("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            rollbackIfOpen()
            throw error
        }
    }

    /// Ends a transaction left open (or aborted) by a failure, if the connection still works.
    private func rollbackIfOpen() {
        if let handle, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) != PQTRANS_IDLE {
            _ = try? execute("ROLLBACK")
        }
    }

    // MARK: Streaming

    /// Runs one query and hands its rows to `body` one at a time as they arrive (libpq's single-row
    /// mode), so the server produces the next rows while this process works on the last: a large
    /// read costs neither a full copy in memory nor a wait for the whole result. A row is valid only
    /// during its call. If `body` throws, the session is closed (the rest of the result is not
    /// drained) and the next call opens a fresh one. Returns the number of rows.
    @discardableResult
    public func stream(_ sql: String, _ parameters: [PostgresEncodable?] = [], row body: (StreamedRow) throws -> Void) throws -> Int {
        let conn = try ready()
        let texts = try parameterTexts(parameters)
        let sent = withCStrings(texts) { values in
            PQsendQueryParams(conn, sql, Int32(values.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(conn, .connectionLost) }
        guard PQsetSingleRowMode(conn) == 1 else {
            drop()
            throw PostgresError(.misuse, message: "single-row mode refused; session dropped")
        }
        var count = 0
        var failure: PostgresError?
        // The bound is on progress: a long result may take long, a silent server may not.
        try results(conn, deadline: deadline(), progressive: true) { result in
            switch PQresultStatus(result) {
            case PGRES_SINGLE_TUPLE where failure == nil:
                do {
                    try body(StreamedRow(result: result))
                } catch {
                    drop()
                    throw error
                }
                count += 1
            case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                break
            default:
                if failure == nil { failure = self.error(from: result, conn) }
            }
        }
        if let failure { throw failure }
        if PQstatus(conn) != CONNECTION_OK { throw connectionError(conn, .connectionLost) }
        collectNotifications(conn)
        return count
    }

    // MARK: COPY

    /// Streams rows into `COPY <table> (<columns>) FROM STDIN` in text format, in one statement.
    /// `copySQL` is fixed text from the caller's code (it takes no parameters); each row's fields are
    /// escaped here (backslash, tab, newline, carriage return), nil is NULL. Returns the rows copied.
    @discardableResult
    public func copy(_ copySQL: String, rows: [[String?]]) throws -> Int {
        let conn = try ready()
        let limit = deadline()
        guard PQsendQuery(conn, copySQL) == 1 else { throw connectionError(conn, .connectionLost) }
        try flushOutput(conn, deadline: limit)
        try waitUntilResultReady(conn, deadline: limit)
        guard let start = PQgetResult(conn) else { throw connectionError(conn, .connectionLost) }
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            let failure = error(from: start, conn)
            PQclear(start)
            try results(conn, deadline: limit) { _ in }
            throw failure
        }
        PQclear(start)
        var buffer = ""
        func flush() throws {
            guard !buffer.isEmpty else { return }
            // Non-blocking: 0 means libpq's buffer is full; send what it holds and try again.
            while true {
                let sent = buffer.withCString { PQputCopyData(conn, $0, Int32(strlen($0))) }
                if sent == 1 { break }
                guard sent == 0 else { throw connectionError(conn, .connectionLost) }
                try wait(conn, for: Int16(POLLOUT), deadline: limit)
                guard PQflush(conn) >= 0 else { throw connectionError(conn, .connectionLost) }
            }
            buffer.removeAll(keepingCapacity: true)
        }
        for row in rows {
            buffer += row.map { field in
                guard let field else { return "\\N" }
                var escaped = ""
                for character in field.unicodeScalars {
                    switch character {
                    case "\\": escaped += "\\\\"
                    case "\t": escaped += "\\t"
                    case "\n": escaped += "\\n"
                    case "\r": escaped += "\\r"
                    default: escaped.unicodeScalars.append(character)
                    }
                }
                return escaped
            }.joined(separator: "\t") + "\n"
            if buffer.utf8.count > 1 << 20 { try flush() }
        }
        try flush()
        while true {
            let ended = PQputCopyEnd(conn, nil)
            if ended == 1 { break }
            guard ended == 0 else { throw connectionError(conn, .connectionLost) }
            try wait(conn, for: Int16(POLLOUT), deadline: limit)
            guard PQflush(conn) >= 0 else { throw connectionError(conn, .connectionLost) }
        }
        var copied = 0
        var failure: PostgresError?
        try results(conn, deadline: limit) { result in
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = error(from: result, conn)
            }
        }
        if let failure { throw failure }
        return copied
    }

    /// Runs `COPY (<query>) TO STDOUT (FORMAT binary)` and hands each row to `body` as it arrives:
    /// no result object per row and no text formatting of integers, UUIDs or times, for the reads
    /// that cover the whole log. `copySQL` is fixed text from the caller's code (COPY takes no
    /// parameters). The deadline moves on with each row, as in `stream`. If `body` throws, the
    /// session is closed. Returns the number of rows.
    @discardableResult
    public func copyOut(_ copySQL: String, row body: (BinaryCopyRow) throws -> Void) throws -> Int {
        let conn = try ready()
        var limit = deadline()
        guard PQsendQuery(conn, copySQL) == 1 else { throw connectionError(conn, .connectionLost) }
        try flushOutput(conn, deadline: limit)
        try waitUntilResultReady(conn, deadline: limit)
        guard let start = PQgetResult(conn) else { throw connectionError(conn, .connectionLost) }
        if PQresultStatus(start) != PGRES_COPY_OUT {
            let failure = error(from: start, conn)
            PQclear(start)
            try results(conn, deadline: limit) { _ in }
            throw failure
        }
        PQclear(start)
        var parser = BinaryCopyParser()
        var count = 0
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 1)
            if length > 0, let buffer {
                defer { PQfreemem(buffer) }
                do {
                    if let row = try parser.row(UnsafeRawBufferPointer(start: buffer, count: Int(length))) {
                        try body(row)
                        count += 1
                    }
                } catch {
                    drop()
                    throw error
                }
                limit = deadline()
            } else if length == 0 {
                try wait(conn, for: Int16(POLLIN), deadline: limit)
                guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, .connectionLost) }
            } else if length == -1 {
                break
            } else {
                throw connectionError(conn, .connectionLost)
            }
        }
        var failure: PostgresError?
        try results(conn, deadline: limit) { result in
            if PQresultStatus(result) != PGRES_COMMAND_OK && failure == nil { failure = error(from: result, conn) }
        }
        if let failure { throw failure }
        return count
    }

    // MARK: LISTEN / NOTIFY

    /// Starts listening on `channel` (a plain lower-case identifier); kept across reconnects.
    public func listen(_ channel: String) throws {
        guard Self.isPlainIdentifier(channel) else {
            throw PostgresError(.misuse, message: "channel name must match [a-z_][a-z0-9_]*", field: "channel")
        }
        // LISTEN takes no parameters; the name was checked above to be a plain identifier.
        try execute("LISTEN \(channel)")
        if !channels.contains(channel) { channels.append(channel) }
    }

    /// Waits up to `timeout` seconds for notifications and returns those received (maybe none).
    /// After a reconnect, notifications sent meanwhile are lost: callers re-read their source then.
    public func waitForNotifications(timeout: Double) throws -> [Notification] {
        let conn = try ready()
        let deadline = Date().addingTimeInterval(timeout)
        while pending.isEmpty {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { break }
            var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready < 0 && errno != EINTR { throw connectionError(conn, .connectionLost) }
            if ready > 0 {
                guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, .connectionLost) }
                collectNotifications(conn)
            }
        }
        defer { pending.removeAll() }
        return pending
    }

    /// Waits until `deadline` (or until `shouldStop` says so), taking in the notifications that
    /// arrive meanwhile without returning them: a reader paced this way is not woken by each commit,
    /// and its read at `deadline` takes in everything they announced at once.
    public func skipNotifications(until deadline: Date, shouldStop: () -> Bool) throws {
        while deadline.timeIntervalSinceNow > 0 && !shouldStop() {
            _ = try waitForNotifications(timeout: deadline.timeIntervalSinceNow)
        }
    }

    // MARK: Connection state

    /// The open connection, re-opened first if the server went away while it was idle.
    private func ready() throws -> OpaquePointer {
        if let handle, isAlive(handle) { return handle }
        if inTransaction {
            throw PostgresError(.connectionLost, message: "connection lost inside a transaction; it was rolled back")
        }
        if lostForGood || ((!options.reconnects || pinned > 0) && handle != nil) {
            close()
            lostForGood = true
            throw PostgresError(.connectionLost, message: "session lost; it is not replaced (it held session state such as a lock)")
        }
        close()
        try open()
        for channel in channels { try execute("LISTEN \(channel)") }
        if let onReconnect {
            do {
                try onReconnect(self)
            } catch {
                close()
                throw error
            }
        }
        guard let handle else { throw PostgresError(.connectionLost, message: "session lost while it was being re-opened") }
        return handle
    }

    /// A cheap check of an idle connection, without a round trip: the socket is readable only if the
    /// server sent something (a notification, or a FATAL message before closing) or closed it.
    private func isAlive(_ conn: OpaquePointer) -> Bool {
        guard PQstatus(conn) == CONNECTION_OK else { return false }
        guard PQtransactionStatus(conn) == PQTRANS_IDLE else { return true }
        for _ in 0..<8 {
            guard PQconsumeInput(conn) == 1, PQstatus(conn) == CONNECTION_OK else { return false }
            // Parsing what arrived delivers notifications, and an unsolicited FATAL (terminated
            // backend, server shutting down) to the notice receiver, which flags it.
            _ = PQisBusy(conn)
            collectNotifications(conn)
            if serverSaidGoodbye { return false }
            let socket = PQsocket(conn)
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) <= 0 { return true }
            var byte: UInt8 = 0
            let peeked = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if peeked == 0 { return false }
            if peeked < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
        }
        return PQstatus(conn) == CONNECTION_OK
    }

    private func open() throws {
        // Our defaults first, then the caller's conninfo (expanded), so an operator's explicit
        // setting in the URL wins over them.
        var settings: [(String, String)] = []
        if let timeout = options.connectTimeout { settings.append(("connect_timeout", String(timeout))) }
        if let keepalive = options.keepalive {
            settings += [
                ("keepalives", "1"), ("keepalives_idle", String(keepalive.idle)),
                ("keepalives_interval", String(keepalive.interval)), ("keepalives_count", String(keepalive.count)),
            ]
        }
        settings.append(("dbname", conninfo))
        let keywords = settings.map { strdup($0.0) } + [nil]
        let values = settings.map { strdup($0.1) } + [nil]
        defer { (keywords + values).forEach { free($0) } }
        let connected = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordPointers in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePointers in
                PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 1)
            }
        }
        guard let conn = connected else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let error = connectionError(conn, .connectionFailed)
            PQfinish(conn)
            throw error
        }
        // Notices (e.g. "already exists, skipping") are not errors: keep them off stderr. An
        // unsolicited FATAL arrives the same way and means the server is closing this session.
        serverSaidGoodbye = false
        PQsetNoticeReceiver(conn, { context, result in
            guard let context, let result, let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))) else { return }
            let level = String(cString: severity)
            if level == "FATAL" || level == "PANIC" {
                Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue().serverSaidGoodbye = true
            }
        }, Unmanaged.passUnretained(self).toOpaque())
        // Every call waits with poll (see `results`), never inside libpq, so a deadline can end it.
        guard PQsetnonblocking(conn, 1) == 0 else {
            let error = connectionError(conn, .connectionFailed)
            PQfinish(conn)
            throw error
        }
        handle = conn
        // Fixed text formats for dates and numbers, whatever the server's defaults; the session's bounds.
        func milliseconds(_ seconds: Double?) -> String? { seconds.map { String(max(1, Int(($0 * 1000).rounded()))) } }
        try execute(
            "SELECT set_config('DateStyle', 'ISO', false), set_config('TimeZone', 'UTC', false), "
                + "set_config('extra_float_digits', '3', false), "
                + "set_config('statement_timeout', coalesce($1, current_setting('statement_timeout')), false), "
                + "set_config('lock_timeout', coalesce($2, current_setting('lock_timeout')), false), "
                + "set_config('idle_in_transaction_session_timeout', "
                + "coalesce($3, current_setting('idle_in_transaction_session_timeout')), false)",
            [milliseconds(options.statementTimeout), milliseconds(options.lockTimeout),
             milliseconds(options.idleInTransactionTimeout)])
    }

    // MARK: Waiting, bounded

    private func deadline() -> Date? {
        options.callTimeout.map { Date().addingTimeInterval($0) }
    }

    /// Sends what libpq has buffered, waiting for the socket while the server is slow to take it.
    private func flushOutput(_ conn: OpaquePointer, deadline: Date?) throws {
        while true {
            let flushed = PQflush(conn)
            if flushed == 0 { return }
            guard flushed == 1 else { throw connectionError(conn, .connectionLost) }
            // The server may be sending while it reads: take that in too, or both sides could wait.
            try wait(conn, for: Int16(POLLOUT) | Int16(POLLIN), deadline: deadline)
            guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, .connectionLost) }
        }
    }

    /// Waits until `PQgetResult` will not block.
    private func waitUntilResultReady(_ conn: OpaquePointer, deadline: Date?) throws {
        while PQisBusy(conn) == 1 {
            try wait(conn, for: Int16(POLLIN), deadline: deadline)
            guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, .connectionLost) }
        }
    }

    /// Hands every result of the call in flight to `each` (then frees it), until libpq has no more.
    /// With `progressive`, the deadline moves on with each result (a long stream is fine, a stall is not).
    private func results(
        _ conn: OpaquePointer, deadline: Date?, progressive: Bool = false, _ each: (OpaquePointer) throws -> Void
    ) throws {
        var deadline = deadline
        try flushOutput(conn, deadline: deadline)
        while true {
            try waitUntilResultReady(conn, deadline: deadline)
            guard let result = PQgetResult(conn) else { return }
            defer { PQclear(result) }
            try each(result)
            if progressive { deadline = self.deadline() }
        }
    }

    /// Waits for the socket to be ready for `events`, or throws `.timedOut` at `deadline` after
    /// closing the session: what the server did with the call is unknown, and the session may be
    /// stuck mid-protocol, so it is never used again.
    private func wait(_ conn: OpaquePointer, for events: Int16, deadline: Date?) throws {
        while true {
            var descriptor = pollfd(fd: PQsocket(conn), events: events, revents: 0)
            var milliseconds: Int32 = -1
            if let deadline {
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { throw timedOut() }
                milliseconds = Int32(min(remaining * 1000, 60_000).rounded(.up))
            }
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw connectionError(conn, .connectionLost) }
        }
    }

    /// Closes a session whose state is unknown; one that held session state stays lost.
    private func drop() {
        close()
        if !options.reconnects || pinned > 0 { lostForGood = true }
    }

    private func timedOut() -> PostgresError {
        let seconds = options.callTimeout.map { String(format: "%g", $0) } ?? "?"
        drop()
        return PostgresError(.timedOut, message: "the database did not answer within \(seconds) s; the session was closed")
    }

    private func collectNotifications(_ conn: OpaquePointer) {
        while let notice = PQnotifies(conn) {
            pending.append(
                Notification(
                    channel: String(cString: notice.pointee.relname),
                    payload: String(cString: notice.pointee.extra),
                    processID: notice.pointee.be_pid))
            PQfreemem(notice)
        }
    }

    // MARK: Results and errors

    private func error(from result: OpaquePointer, _ conn: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? Self.trimmed(PQresultErrorMessage(result))
        let lost = PQstatus(conn) != CONNECTION_OK
        return PostgresError(
            lost ? .connectionLost : .server, sqlState: sqlState, message: message,
            detail: field("D"), hint: field("H"),
            field: field("n") ?? field("c"))
    }

    private func connectionError(_ conn: OpaquePointer, _ kind: PostgresError.Kind) -> PostgresError {
        PostgresError(kind, message: Self.trimmed(PQerrorMessage(conn)))
    }

    private static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown libpq error" }
        let message = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
        return message.isEmpty ? "unknown libpq error" : message
    }

    private static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        let lower = UInt8(ascii: "a")...UInt8(ascii: "z")
        let digit = UInt8(ascii: "0")...UInt8(ascii: "9")
        let underscore = UInt8(ascii: "_")
        return (lower.contains(first) || first == underscore)
            && name.utf8.allSatisfy { lower.contains($0) || digit.contains($0) || $0 == underscore }
    }

    /// Text parameters; a NUL byte cannot travel in libpq's C strings, so it is refused, not truncated.
    private func parameterTexts(_ parameters: [PostgresEncodable?]) throws -> [String?] {
        try parameters.enumerated().map { index, parameter in
            guard var text = parameter?.postgresText else { return nil }
            if text.withUTF8({ $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil }) {
                throw PostgresError(
                    .misuse, sqlState: "22021", message: "parameter $\(index + 1) contains a NUL byte",
                    field: "$\(index + 1)")
            }
            return text
        }
    }

    private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { $0.map { strdup($0)! } }
        defer { copies.forEach { free($0) } }
        return body(copies.map { $0.map { UnsafePointer($0) } })
    }
}

extension Connection {
    /// The conninfo to use: the `--database` flag if given, else `$CONSULT_DATABASE_URL`, else ""
    /// (libpq then reads the standard `PG*` variables).
    public static func conninfo(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        flag ?? environment["CONSULT_DATABASE_URL"] ?? ""
    }
}
