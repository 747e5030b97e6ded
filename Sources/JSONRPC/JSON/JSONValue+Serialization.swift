/// Compact JSON output.
///
/// The output has no insignificant whitespace, keeps object keys (including duplicates) in stored order, writes
/// numbers as their stored text, and escapes strings minimally: `"` and `\` are escaped, control characters below
/// U+0020 use `\b \f \n \r \t` or `\u00XX`, and everything else, including `/` and non-ASCII, is written as raw UTF-8.
extension JSONValue {
    /// Appends the compact JSON text of this value to `bytes`.
    public func serialize(into bytes: inout [UInt8]) {
        JSONWriter.write(self, to: &bytes)
    }

    /// The compact JSON text of this value as UTF-8 bytes.
    public var serialized: [UInt8] {
        var bytes: [UInt8] = []
        JSONWriter.write(self, to: &bytes)
        return bytes
    }

    /// The compact JSON text of this value.
    public var jsonString: String {
        String(decoding: serialized, as: UTF8.self)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text, which reads better in logs and test failures than the enum's structure.
    public var description: String { jsonString }
}

extension JSONObject: CustomStringConvertible {
    /// The compact JSON text of the object.
    public var description: String { JSONValue.object(self).jsonString }
}
