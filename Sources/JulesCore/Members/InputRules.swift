import JSONRPC

/// Checks of the text a client sends, each failing with -32602 naming the field.
enum InputRules {
    /// A name people read: trimmed of surrounding whitespace, 1 to `maximumLength` characters, no control
    /// characters (line breaks included). Characters are counted as Unicode code points, as PostgreSQL's
    /// `char_length` counts them: an accent written as a combining mark counts apart from its letter.
    static func name(_ text: String, field: String, maximumLength: Int) throws(JSONRPCError) -> String {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else {
            throw .invalidParams(field: field, reason: "must not be empty")
        }
        // Counted in bytes first, so a huge string is refused without walking its characters.
        guard trimmed.utf8.count <= maximumLength * 4, trimmed.unicodeScalars.count <= maximumLength else {
            throw .invalidParams(field: field, reason: "must be at most \(maximumLength) characters")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidParams(field: field, reason: "must not contain control characters or line breaks")
        }
        return trimmed
    }

    /// The number of items a page may hold: 1...`maximum`, `defaultValue` when absent.
    static func limit(
        _ value: Int?, field: String = "params.limit", default defaultValue: Int = 100, maximum: Int = 1000
    )
        throws(JSONRPCError) -> Int
    {
        guard let value else { return defaultValue }
        guard (1...maximum).contains(value) else {
            throw .invalidParams(field: field, reason: "must be between 1 and \(maximum)")
        }
        return value
    }

    /// An SMS keyword such as STOP or START: 1 to 32 letters or digits, stored upper-case.
    static func keyword(_ text: String?, field: String = "params.keyword") throws(JSONRPCError) -> String? {
        guard let text else { return nil }
        let trimmed = text.trimmingWhitespace()
        guard (1...32).contains(trimmed.utf8.count),
            trimmed.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
            )
        else {
            throw .invalidParams(field: field, reason: "must be 1 to 32 ASCII letters or digits")
        }
        return trimmed.uppercased()
    }

    /// A Twilio message sid: two capital letters (`SM`, `MM`) and 32 lowercase hex digits.
    static func messageSID(_ text: String?, field: String = "params.message_sid") throws(JSONRPCError) -> String? {
        guard let text else { return nil }
        guard isMessageSID(text) else {
            throw .invalidParams(
                field: field, reason: "must be a Twilio message sid such as SM followed by 32 hex digits")
        }
        return text
    }

    /// Whether `text` has the shape of a provider's message sid: two capital letters and 32 lowercase hex digits.
    static func isMessageSID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 34 && bytes[0...1].allSatisfy({ (0x41...0x5A).contains($0) })
            && bytes[2...].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    }
}

extension String {
    /// The string without leading and trailing whitespace (Unicode's definition, line breaks included).
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
