/// A reply from Redis.
///
/// An error reply at the top level is thrown as ``RedisError`` with code ``RedisError/Code/server``; one nested
/// in an array (as `EXEC` returns for a failed command) is kept as ``error(_:)``.
public enum RedisReply: Sendable, Hashable {
    /// A bulk string: bytes, possibly binary.
    case string([UInt8])
    /// A simple status such as `OK` or `PONG`.
    case status(String)
    /// An integer.
    case integer(Int64)
    /// A double (RESP3). hiredis 0.14 speaks RESP2, so this is never produced today; it is here so that
    /// code switching over replies keeps compiling when the client moves to RESP3.
    case double(Double)
    /// An array of replies (`LRANGE`, `EXEC`, a script returning a table).
    case array([RedisReply])
    /// The null reply (`GET` of a missing key, `BLPOP` that timed out).
    case null
    /// An error reply nested inside an array.
    case error(String)

    /// The reply as text: a bulk string decoded as UTF-8 (`nil` if it is not valid UTF-8), or a status.
    public var stringValue: String? {
        switch self {
        case .string(let bytes): String(validating: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// The reply as an integer: an integer reply, or a bulk string holding a decimal number (as `GET` of a
    /// counter returns).
    public var intValue: Int? {
        switch self {
        case .integer(let value): Int(exactly: value)
        case .string(let bytes): String(validating: bytes, as: UTF8.self).flatMap { Int($0) }
        default: nil
        }
    }

    /// The bytes of a bulk string, or of a status.
    public var bytes: [UInt8]? {
        switch self {
        case .string(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// The elements of an array reply.
    public var arrayValue: [RedisReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// Whether this is the null reply.
    public var isNull: Bool {
        self == .null
    }
}
