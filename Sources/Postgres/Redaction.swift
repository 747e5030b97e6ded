/// Helpers that keep secrets and values out of text meant for logs.
enum Redaction {
    /// Replaces every `"…"`-quoted fragment: PostgreSQL and libpq quote the offending value or token there, and that
    /// value may be a parameter, a piece of a row or a piece of a password.
    static func quotedFragments(in text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var insideQuotes = false
        for character in text {
            if character == "\"" {
                if !insideQuotes { result.append("\"…\"") }
                insideQuotes.toggle()
            } else if !insideQuotes {
                result.append(character)
            }
        }
        return result
    }

    /// Removes a known secret from a message (libpq messages should not contain the password, but a message built
    /// from a hostile or mistyped connection string might).
    static func removing(_ secret: String?, from text: String) -> String {
        guard let secret, !secret.isEmpty else { return text }
        return text.replacing(secret, with: "***")
    }
}
