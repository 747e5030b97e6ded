/// Recognises the handful of strings that appear in almost every JSON-RPC message (member names and `"2.0"`), so
/// that the parser can return a constant instead of building and validating a new `String` for each occurrence.
enum JSONKnownStrings {
    /// Returns the constant equal to the `count` bytes at `bytes`, if the text is one of the known strings.
    @inline(__always)
    static func lookup(_ bytes: UnsafePointer<UInt8>, count: Int) -> String? {
        switch count {
        case 2: return matches(bytes, "id") ? "id" : nil
        case 3: return matches(bytes, "2.0") ? "2.0" : nil
        case 4:
            if matches(bytes, "code") { return "code" }
            if matches(bytes, "data") { return "data" }
            return nil
        case 5:
            if matches(bytes, "error") { return "error" }
            if matches(bytes, "_meta") { return "_meta" }
            return nil
        case 6:
            if matches(bytes, "method") { return "method" }
            if matches(bytes, "params") { return "params" }
            if matches(bytes, "result") { return "result" }
            return nil
        case 7:
            if matches(bytes, "jsonrpc") { return "jsonrpc" }
            if matches(bytes, "message") { return "message" }
            return nil
        default:
            return nil
        }
    }

    /// Compares against a literal whose length the caller has already matched.
    @inline(__always)
    private static func matches(_ bytes: UnsafePointer<UInt8>, _ literal: StaticString) -> Bool {
        let expected = literal.utf8Start
        for offset in 0..<literal.utf8CodeUnitCount where bytes[offset] != expected[offset] {
            return false
        }
        return true
    }
}
