import JSONRPC

/// Who waits for whom in the queue: replies to a member's text go before bulk messages and are not held for quiet
/// hours.
public enum SMSPriority: String, Codable, Sendable {
    case reply
    case bulk

    /// The value stored in `sms_messages.priority`: the smaller is claimed first.
    var rank: Int { self == .reply ? 0 : 1 }

    init?(rank: Int) {
        switch rank {
        case 0: self = .reply
        case 1: self = .bulk
        default: return nil
        }
    }
}

/// Checks of what a client asks to send, each failing with -32602 naming the field.
enum SMSInput {
    /// Twilio's limit on a message body.
    static let maximumBodyCharacters = 1600

    /// A message body: 1 to 1600 characters, no control characters but line breaks and tabs. Kept as written
    /// (leading and trailing spaces are the sender's choice).
    static func body(_ text: String, field: String) throws(JSONRPCError) -> String {
        guard !text.isEmpty, !text.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw .invalidParams(field: field, reason: "must not be empty")
        }
        // Bytes first, so a huge string is refused without walking it; then Unicode code points, as the provider
        // and the database count them (an emoji with a skin tone is two).
        guard text.utf8.count <= maximumBodyCharacters * 4, text.unicodeScalars.count <= maximumBodyCharacters else {
            throw .invalidParams(field: field, reason: "must be at most \(maximumBodyCharacters) characters")
        }
        let allowed: Set<Unicode.Scalar> = ["\n", "\r", "\t"]
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !allowed.contains($0) }) {
            throw .invalidParams(
                field: field, reason: "must not contain control characters other than line breaks and tabs")
        }
        return text
    }
}
