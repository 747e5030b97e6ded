/// An error object of a JSON-RPC 2.0 response.
///
/// Every error carries a stable machine-readable name (`data.type`) beside its numeric code, so clients can
/// branch on `"not_found"` instead of on `-32001`. The router adds `data.correlation_id` when it answers; `details`
/// carry anything else a client needs (the offending field of invalid params, the current version of a conflict).
///
/// The `message` and `details` are sent to the client as they are: never put a stack, a SQL text, a secret or a
/// phone number in them.
public struct JSONRPCError: Error, Sendable, Hashable {
    /// The numeric code (`error.code`).
    public var code: Int
    /// A short single sentence (`error.message`).
    public var message: String
    /// The stable name of the error (`error.data.type`).
    public var type: String
    /// More members of `error.data`, besides `type` and `correlation_id`.
    public var details: JSONObject

    /// Creates an error.
    /// - Parameters:
    ///   - code: The numeric code; application errors use -32000...-32099.
    ///   - type: The stable name, in `snake_case`.
    ///   - message: A short sentence for people.
    ///   - details: More members of `error.data`.
    public init(code: Int, type: String, message: String, details: JSONObject = JSONObject()) {
        self.code = code
        self.type = type
        self.message = message
        self.details = details
    }
}

// MARK: - The errors of the specification

extension JSONRPCError {
    /// -32700: the text is not valid JSON.
    public static func parseError(_ reason: String? = nil) -> JSONRPCError {
        JSONRPCError(code: -32700, type: "parse_error", message: "Parse error", details: reasonDetails(reason))
    }

    /// -32600: valid JSON that is not a valid request object.
    public static func invalidRequest(_ reason: String? = nil) -> JSONRPCError {
        JSONRPCError(code: -32600, type: "invalid_request", message: "Invalid Request", details: reasonDetails(reason))
    }

    /// -32600 for a message over the size limit; the message itself has been discarded.
    public static func messageTooLarge(limit: Int) -> JSONRPCError {
        JSONRPCError(
            code: -32600,
            type: "message_too_large",
            message: "message too large",
            details: ["limit_bytes": JSONValue(limit)]
        )
    }

    /// -32601: no such method.
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        // The name is echoed only when it is short and printable: it comes from the client and ends up in logs.
        var details = JSONObject()
        if method.utf8.count <= 128, method.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) {
            details["method"] = .string(method)
        }
        return JSONRPCError(code: -32601, type: "method_not_found", message: "Method not found", details: details)
    }

    /// -32602: the parameters do not fit the method.
    /// - Parameters:
    ///   - field: The path of the offending field, such as `params.messages[3].body`.
    ///   - reason: What is wrong with it.
    public static func invalidParams(field: String, reason: String) -> JSONRPCError {
        JSONRPCError(
            code: -32602,
            type: "invalid_params",
            message: "Invalid params",
            details: ["field": .string(field), "reason": .string(reason)]
        )
    }

    /// -32603: something failed inside the server. Nothing of the cause is sent; the log has it.
    public static let internalError = JSONRPCError(code: -32603, type: "internal_error", message: "Internal error")

    private static func reasonDetails(_ reason: String?) -> JSONObject {
        guard let reason else { return JSONObject() }
        return ["reason": .string(reason)]
    }
}

// MARK: - Server errors (-32000...-32099) shared by every application

extension JSONRPCError {
    /// -32001: the named thing does not exist.
    public static func notFound(_ message: String, details: JSONObject = JSONObject()) -> JSONRPCError {
        JSONRPCError(code: -32001, type: "not_found", message: message, details: details)
    }

    /// -32002: the request conflicts with the current state (a duplicate, a stale version).
    public static func conflict(_ message: String, details: JSONObject = JSONObject()) -> JSONRPCError {
        JSONRPCError(code: -32002, type: "conflict", message: message, details: details)
    }

    /// -32003: a rate limit or quota refuses the request for now.
    public static func rateLimited(_ message: String, details: JSONObject = JSONObject()) -> JSONRPCError {
        JSONRPCError(code: -32003, type: "rate_limited", message: message, details: details)
    }

    /// -32004: a dependency (database, cache, provider) cannot be reached; the request may be retried.
    public static func unavailable(_ message: String, details: JSONObject = JSONObject()) -> JSONRPCError {
        JSONRPCError(code: -32004, type: "unavailable", message: message, details: details)
    }

    /// -32005: the request's `deadline_ms` passed before it finished.
    public static func deadlineExceeded(deadlineMilliseconds: Int) -> JSONRPCError {
        JSONRPCError(
            code: -32005,
            type: "deadline_exceeded",
            message: "Deadline exceeded",
            details: ["deadline_ms": JSONValue(deadlineMilliseconds)]
        )
    }

    /// -32006: the caller may not do this.
    public static func forbidden(_ message: String, details: JSONObject = JSONObject()) -> JSONRPCError {
        JSONRPCError(code: -32006, type: "forbidden", message: message, details: details)
    }
}

/// A domain error that knows how it is reported over JSON-RPC.
///
/// Handlers throw their own error types; the router asks each for its JSON-RPC form. Any other error becomes
/// -32603 with nothing of its description sent to the client.
public protocol JSONRPCErrorConvertible: Error {
    /// The error as the client sees it.
    var jsonRPCError: JSONRPCError { get }
}

extension JSONRPCError: JSONRPCErrorConvertible {
    public var jsonRPCError: JSONRPCError { self }
}
