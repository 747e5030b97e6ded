/// Compact JSON output.
///
/// The output has no insignificant whitespace, keeps object keys (including duplicates) in stored order, writes
/// numbers as their stored text, and escapes strings minimally: `"` and `\` are escaped, control characters below
/// U+0020 use `\b \f \n \r \t` or `\u00XX`, and everything else, including `/` and non-ASCII, is written as raw UTF-8.
extension JSONValue {
    /// Appends the compact JSON text of this value to `bytes`.
    public func serialize(into bytes: inout [UInt8]) {
        // Sizing first lets the output be written through a raw pointer in one pass, without a capacity and
        // uniqueness check per byte; the sizing pass is cheap because string lengths are known and the escape scan
        // is a tight loop.
        let size = JSONWriter.size(of: self)
        guard size > 0 else { return }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: size))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var writer = JSONWriter(cursor: buffer.baseAddress! + start)
            writer.write(self)
        }
    }

    /// The compact JSON text of this value as UTF-8 bytes.
    public var serialized: [UInt8] {
        let size = JSONWriter.size(of: self)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initializedCount in
            var writer = JSONWriter(cursor: buffer.baseAddress!)
            writer.write(self)
            initializedCount = size
        }
    }

    /// The compact JSON text of this value.
    public var jsonString: String {
        let size = JSONWriter.size(of: self)
        guard size > 0 else { return "" }
        return String(unsafeUninitializedCapacity: size) { buffer in
            var writer = JSONWriter(cursor: buffer.baseAddress!)
            writer.write(self)
            return size
        }
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
