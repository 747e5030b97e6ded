/// An error from the Redis client: the connection, the pool, the configuration or the server.
///
/// `description` is safe to log: it never holds a password nor a command's arguments (they may carry
/// personal data). The server's own words are in ``serverMessage`` for callers that need them.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; compare with the static members (`error.code == .timeout`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        // A private enum behind a struct lets new codes be added without breaking exhaustive switches.
        private enum Base: Hashable, Sendable {
            case connectionFailed
            case connectionClosed
            case timeout
            case server
            case protocolError
            case poolTimeout
            case invalidConfiguration
            case invalidArgument
            case shutDown
            case cancelled
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A connection could not be opened (refused, unreachable, authentication or `SELECT` failed).
        public static let connectionFailed = Code(.connectionFailed)
        /// An open connection broke: the server closed it or an I/O error occurred.
        public static let connectionClosed = Code(.connectionClosed)
        /// No reply within `commandTimeout`; the connection was discarded.
        public static let timeout = Code(.timeout)
        /// The server answered with an error reply; see ``RedisError/serverMessage``.
        public static let server = Code(.server)
        /// The server sent something hiredis could not parse.
        public static let protocolError = Code(.protocolError)
        /// No connection became free within `acquireTimeout`.
        public static let poolTimeout = Code(.poolTimeout)
        /// The configuration (usually its URL) is not usable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A command was malformed before it reached the server (for example, it had no arguments).
        public static let invalidArgument = Code(.invalidArgument)
        /// The client was shut down.
        public static let shutDown = Code(.shutDown)
        /// The calling task was cancelled while it waited for a connection.
        public static let cancelled = Code(.cancelled)

        public var description: String {
            switch self.base {
            case .connectionFailed: "connectionFailed"
            case .connectionClosed: "connectionClosed"
            case .timeout: "timeout"
            case .server: "server"
            case .protocolError: "protocolError"
            case .poolTimeout: "poolTimeout"
            case .invalidConfiguration: "invalidConfiguration"
            case .invalidArgument: "invalidArgument"
            case .shutDown: "shutDown"
            case .cancelled: "cancelled"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// For ``Code/server``: the server's error reply, such as `"WRONGTYPE Operation against a key ..."`.
    ///
    /// Redis may quote a command's arguments here (`ERR unknown command ... with args beginning with`),
    /// so it is not part of ``description`` unabridged.
    public var serverMessage: String?
    /// What happened, in words written by this library: never a password, never a command's arguments.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: A description free of secrets and of command arguments.
    ///   - serverMessage: The server's error reply, if there was one.
    public init(_ code: Code, message: String, serverMessage: String? = nil) {
        self.code = code
        self.message = message
        self.serverMessage = serverMessage
    }

    public var description: String {
        var text = "RedisError.\(self.code): \(self.message)"
        if let serverMessage {
            text += ": " + Self.abridged(serverMessage)
        }
        return text
    }

    /// The server's message without the part where Redis echoes arguments, and bounded in length, so that
    /// a log line cannot carry a caller's data.
    static func abridged(_ serverMessage: String) -> String {
        var message = Substring(serverMessage)
        if let echo = message.firstRange(of: ", with args beginning with") {
            message = message[..<echo.lowerBound]
        }
        let limit = 160
        return message.count > limit ? String(message.prefix(limit)) + "…" : String(message)
    }

    /// The server's error code, the first word of its message (`WRONGTYPE`, `NOSCRIPT`, `ERR`).
    public var serverErrorCode: Substring? {
        self.serverMessage?.prefix { $0 != " " }
    }
}
