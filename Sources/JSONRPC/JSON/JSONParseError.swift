/// Why and where ``JSONParser`` rejected its input.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The category of a parse failure. The cases are stable so callers and tests can match on them.
    public enum Reason: String, Sendable, Equatable, CaseIterable {
        /// The input ended inside a value, or contained only whitespace.
        case unexpectedEnd
        /// A byte that cannot start or continue the construct being parsed.
        case unexpectedByte
        /// A number that does not follow the JSON grammar (leading zero, missing digits, ...).
        case invalidNumber
        /// A backslash escape that JSON does not define, or a malformed `\u` escape.
        case invalidEscape
        /// A `\u` escape for a UTF-16 surrogate that is not part of a valid high/low pair.
        case loneSurrogate
        /// A string containing bytes that are not well-formed UTF-8.
        case invalidUTF8
        /// A raw byte below 0x20 inside a string; JSON requires such characters to be escaped.
        case controlCharacterInString
        /// Arrays and objects nested deeper than the allowed maximum.
        case tooDeep
        /// Something other than whitespace after the single top-level value.
        case trailingData
    }

    /// The zero-based byte offset of the offending byte, or the input length for `unexpectedEnd`.
    public let offset: Int
    /// What went wrong.
    public let reason: Reason

    /// Creates an error; public so that callers can build expected values in tests.
    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    /// A human-readable message suitable for a JSON-RPC parse error's `data`.
    public var description: String {
        "invalid JSON at byte \(offset): \(reason.message)"
    }
}

extension JSONParseError.Reason {
    /// A short English phrase describing the reason.
    public var message: String {
        switch self {
        case .unexpectedEnd: "unexpected end of input"
        case .unexpectedByte: "unexpected character"
        case .invalidNumber: "invalid number"
        case .invalidEscape: "invalid escape sequence"
        case .loneSurrogate: "unpaired UTF-16 surrogate in \\u escape"
        case .invalidUTF8: "invalid UTF-8"
        case .controlCharacterInString: "unescaped control character in string"
        case .tooDeep: "nesting too deep"
        case .trailingData: "unexpected data after the JSON value"
        }
    }
}
