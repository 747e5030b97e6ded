extension StringProtocol {
    /// Without leading and trailing whitespace (libpq messages end in newlines and indent their hints with tabs).
    func trimmingWhitespace() -> String {
        String(self.drop { $0.isWhitespace }).trimmingTrailingWhitespace()
    }

    func trimmingTrailingWhitespace() -> String {
        var copy = Substring(self)
        while let last = copy.last, last.isWhitespace { copy.removeLast() }
        return String(copy)
    }
}
