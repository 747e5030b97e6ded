/// Helpers that keep secrets and values out of text meant for logs.
enum Redaction {
    /// Replaces what PostgreSQL and libpq quote (`"…"`): the offending value or token, which may be a parameter,
    /// a piece of a row or a piece of a password. The server quotes values as they are, without escaping, so a
    /// value may itself hold quotes: everything from the first quote to the last is one fragment (an identifier
    /// quoted beside it goes too; the error's own fields name the table, column and constraint). Quotes are looked
    /// for among Unicode scalars, not characters: a combining mark after a quote makes one character of the two.
    static func quotedFragments(in text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(of: "\"") else { return text }
        let last = scalars.lastIndex(of: "\"") ?? first
        var result = String(String.UnicodeScalarView(scalars[..<first]))
        result += "\"…\""
        if last > first { result += String(String.UnicodeScalarView(scalars[scalars.index(after: last)...])) }
        return result
    }

    /// Removes a known secret from a message (libpq messages should not contain the password, but a message built
    /// from a hostile or mistyped connection string might).
    static func removing(_ secret: String?, from text: String) -> String {
        guard let secret, !secret.isEmpty else { return text }
        return text.replacing(secret, with: "***")
    }
}
