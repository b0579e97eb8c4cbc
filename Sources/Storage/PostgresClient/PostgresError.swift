/// An error from the database layer, carrying what a user needs to act on it.
public struct PostgresError: Error, CustomStringConvertible, Equatable {
    /// Where the failure happened.
    public enum Kind: String, Sendable {
        /// Could not open (or re-open) a connection.
        case connectionFailed
        /// The connection broke during a call: the outcome of that call is unknown.
        case connectionLost
        /// The server refused the statement; `sqlState` says why.
        case server
        /// A value could not be decoded into the Swift type asked for.
        case decoding
        /// The client was used in a way libpq does not allow (a bug in the caller).
        case misuse
        /// The call did not finish within the session's `callTimeout`: the session was closed and
        /// the call's outcome is unknown (a COMMIT may or may not have happened).
        case timedOut
    }

    public let kind: Kind
    /// The five-character SQLSTATE code, for server errors.
    public let sqlState: String?
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The constraint, column or field at fault, when the server or decoder names one.
    public let field: String?

    public init(
        _ kind: Kind, sqlState: String? = nil, message: String,
        detail: String? = nil, hint: String? = nil, field: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.field = field
    }

    public var description: String {
        var text = message
        if let sqlState { text = "\(sqlState): \(text)" }
        if let detail { text += " (\(detail))" }
        if let hint { text += " Hint: \(hint)" }
        return text
    }

    /// True when retrying later, on a fresh connection, may succeed.
    public var isConnectionProblem: Bool {
        kind == .connectionFailed || kind == .connectionLost || kind == .timedOut
            || (sqlState.map { $0.hasPrefix("08") || $0 == "57P01" || $0 == "57P02" || $0 == "57P03" } ?? false)
    }
}

extension PostgresError {
    /// True when a bound on time ended the call: the client's own, the server's statement timeout
    /// or its lock timeout. Nothing the call did is kept, except a COMMIT cut off by the client's bound.
    public var isTimeout: Bool {
        kind == .timedOut || sqlState == SQLState.queryCanceled || sqlState == SQLState.lockNotAvailable
    }
}

/// SQLSTATE codes the rest of the code reacts to.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let checkViolation = "23514"
    public static let insufficientPrivilege = "42501"
    public static let undefinedTable = "42P01"
    public static let invalidSchemaName = "3F000"
    public static let undefinedFunction = "42883"
    public static let raiseException = "P0001"
    public static let serializationFailure = "40001"
    public static let adminShutdown = "57P01"
    /// `statement_timeout` (or a cancel request) ended the statement.
    public static let queryCanceled = "57014"
    /// `lock_timeout` ended a wait for a lock.
    public static let lockNotAvailable = "55P03"
    /// Raised by the log's trigger when something tries to change or remove an event.
    public static let immutableLog = "CL001"
    /// An insert whose positions would not continue the log (a gap, a reordering) or whose log time is not now.
    public static let logOrder = "CL002"
}
