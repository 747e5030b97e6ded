import Logging

/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    /// The method being called.
    public var method: String
    /// The request's correlation id: the client's `params._meta.correlation_id`, or one made up for it.
    public var correlationID: String
    /// `params._meta.idempotency_key`, when the client gave one.
    public var idempotencyKey: String?
    /// When the client stops waiting (`params._meta.deadline_ms` after the request was read).
    public var deadline: ContinuousClock.Instant?
    /// A logger whose lines carry the correlation id and the method.
    ///
    /// Built when asked for: most requests never log, and adding metadata copies the logger's dictionary.
    public var logger: Logger {
        get {
            var logger = baseLogger
            logger[metadataKey: "method"] = .string(method)
            return logger
        }
        set { baseLogger = newValue }
    }
    private var baseLogger: Logger

    public init(
        method: String,
        correlationID: String,
        idempotencyKey: String? = nil,
        deadline: ContinuousClock.Instant? = nil,
        logger: Logger
    ) {
        self.method = method
        self.correlationID = correlationID
        self.idempotencyKey = idempotencyKey
        self.deadline = deadline
        self.baseLogger = logger
    }
}
