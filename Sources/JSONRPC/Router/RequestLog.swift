import Logging

/// What the router logs when a request finishes: one line per request, on the path of every call.
public struct RequestLogLine: Sendable {
    public var level: Logger.Level
    public var correlationID: String
    /// The method called, or `_unknown` for a name that is not served.
    public var method: String
    public var durationMilliseconds: Double
    /// The error's `data.type` when the request failed.
    public var errorType: String?

    public init(
        level: Logger.Level,
        correlationID: String,
        method: String,
        durationMilliseconds: Double,
        errorType: String? = nil
    ) {
        self.level = level
        self.correlationID = correlationID
        self.method = method
        self.durationMilliseconds = durationMilliseconds
        self.errorType = errorType
    }
}

/// Writes the router's request lines.
///
/// The default, ``SwiftLogRequestLog``, logs them through the router's `Logger` like every other line. A backend
/// may write them more directly (the metadata dictionary swift-log needs costs a few microseconds per request), as
/// long as the line is the one its `LogHandler` would write for ``SwiftLogRequestLog``'s event.
public protocol RequestLog: Sendable {
    func write(_ line: RequestLogLine)
}

/// Request lines as swift-log events: message `request`, metadata `correlation_id`, `method`, `duration_ms` and
/// `error_type` when the request failed.
public struct SwiftLogRequestLog: RequestLog {
    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func write(_ line: RequestLogLine) {
        var metadata: Logger.Metadata = [
            "correlation_id": .string(line.correlationID),
            "method": .string(line.method),
            "duration_ms": .stringConvertible(line.durationMilliseconds),
        ]
        if let errorType = line.errorType { metadata["error_type"] = .string(errorType) }
        logger.log(level: line.level, "request", metadata: metadata)
    }
}
