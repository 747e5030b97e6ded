extension Character {
    /// Space, tab, CR or LF: what surrounds and separates keys in environment variables and configuration files.
    var isASCIIWhitespace: Bool {
        self == " " || self == "\t" || self == "\n" || self == "\r" || self == "\r\n"
    }
}

extension StringProtocol {
    /// The text without leading and trailing ASCII whitespace; the library does not import Foundation for this.
    func trimmingASCIIWhitespace() -> Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { !$0.isASCIIWhitespace }),
            let last = text.lastIndex(where: { !$0.isASCIIWhitespace })
        else {
            return ""
        }
        return text[first...last]
    }
}
