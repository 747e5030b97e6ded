/// An error thrown by ``PostgresClient``, ``PostgresTransaction``, ``PostgresRow`` and ``PostgresConfiguration``.
///
/// `description` is safe to log: it never contains SQL text, parameter values or passwords. The server's own message
/// (``serverMessage``) may quote values (for example `invalid input syntax for type integer: "abc"`), so
/// `description` shows it with every double-quoted fragment replaced by `"…"`.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure happened. Compare with the static members, e.g. `error.code == .queryFailed`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionFailed
            case connectionClosed
            case queryFailed
            case timeout
            case poolTimeout
            case invalidConfiguration
            case decodingFailed
            case shutDown
            case cancelled
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A connection could not be opened (server down, bad credentials, unknown database, …).
        public static let connectionFailed = Self(.connectionFailed)
        /// The connection broke while it was in use; the client drops it and opens a new one on demand.
        public static let connectionClosed = Self(.connectionClosed)
        /// The server rejected the statement; see ``PostgresError/sqlState`` and ``PostgresError/serverMessage``.
        public static let queryFailed = Self(.queryFailed)
        /// The statement ran into `statement_timeout`, or opening a connection ran into `connect_timeout`.
        public static let timeout = Self(.timeout)
        /// No pooled connection became free within ``PostgresConfiguration/acquireTimeout``.
        public static let poolTimeout = Self(.poolTimeout)
        /// The connection string or a setting is not valid.
        public static let invalidConfiguration = Self(.invalidConfiguration)
        /// A result value could not be decoded into the requested Swift type (or was NULL for a non-optional).
        public static let decodingFailed = Self(.decodingFailed)
        /// The client was shut down.
        public static let shutDown = Self(.shutDown)
        /// The calling task was cancelled while it waited for a connection or for the thread pool.
        public static let cancelled = Self(.cancelled)

        public var description: String {
            switch self.base {
            case .connectionFailed: "connectionFailed"
            case .connectionClosed: "connectionClosed"
            case .queryFailed: "queryFailed"
            case .timeout: "timeout"
            case .poolTimeout: "poolTimeout"
            case .invalidConfiguration: "invalidConfiguration"
            case .decodingFailed: "decodingFailed"
            case .shutDown: "shutDown"
            case .cancelled: "cancelled"
            }
        }
    }

    /// What kind of failure happened.
    public var code: Code
    /// The client's own explanation, free of secrets (e.g. which host it could not reach, which column was NULL).
    public var message: String
    /// The server's SQLSTATE, e.g. `"23505"` for a unique violation; `nil` when the server sent none.
    public var sqlState: String?
    /// The server's primary message. It never contains the query text but may quote values.
    public var serverMessage: String?
    /// The constraint the server named (unique, check, foreign key, …).
    public var constraint: String?
    /// The table the server named.
    public var table: String?
    /// The column the server named.
    public var column: String?

    /// Creates an error; the library makes these, the initialiser is public so callers can build them in tests.
    public init(
        code: Code,
        message: String,
        sqlState: String? = nil,
        serverMessage: String? = nil,
        constraint: String? = nil,
        table: String? = nil,
        column: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    /// SQLSTATE 23505: a unique or primary-key constraint was violated.
    public var isUniqueViolation: Bool { self.sqlState == "23505" }
    /// SQLSTATE 23514: a check constraint was violated.
    public var isCheckViolation: Bool { self.sqlState == "23514" }
    /// SQLSTATE 23503: a foreign-key constraint was violated.
    public var isForeignKeyViolation: Bool { self.sqlState == "23503" }
    /// SQLSTATE 23502: NULL was written to a NOT NULL column.
    public var isNotNullViolation: Bool { self.sqlState == "23502" }
    /// SQLSTATE 40001: a serializable transaction could not be serialised; retrying the whole transaction is safe.
    public var isSerializationFailure: Bool { self.sqlState == "40001" }
    /// SQLSTATE 40P01: the transaction was chosen as a deadlock victim; retrying the whole transaction is safe.
    public var isDeadlock: Bool { self.sqlState == "40P01" }
    /// The server refused the data itself (SQLSTATE class 22: a value out of range, an invalid escape, …): sending
    /// the same values again fails again.
    public var isDataException: Bool { self.sqlState?.hasPrefix("22") == true }
    /// The server refused the values themselves: a data exception, or a check or NOT NULL constraint (class 23's
    /// rules about one row's own values, unlike a unique or foreign key, which depend on other rows).
    public var refusesTheValues: Bool { isDataException || isCheckViolation || isNotNullViolation }

    public var description: String {
        var parts = ["code: \(self.code)", "message: \(self.message)"]
        if let sqlState { parts.append("sqlState: \(sqlState)") }
        if let serverMessage { parts.append("serverMessage: \(Redaction.quotedFragments(in: serverMessage))") }
        if let constraint { parts.append("constraint: \(constraint)") }
        if let table { parts.append("table: \(table)") }
        if let column { parts.append("column: \(column)") }
        return "PostgresError(\(parts.joined(separator: ", ")))"
    }
}
