/// A coding key for arbitrary object member names, used when coding `JSONValue` objects and `super` values.
struct JSONCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init(stringValue: String) {
        self.init(stringValue)
    }

    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }

    /// The key Foundation uses for `superDecoder()` / `superEncoder()`; matched so payloads are interchangeable.
    static let superKey = JSONCodingKey("super")
}

/// A coding key for a position in an array.
///
/// The string form `"Index 3"` matches Foundation's, so ``JSONValueDecoder/describe(_:)`` recognises array
/// positions in paths produced by either decoder. The string is built only when asked for, which is rare because it
/// is only needed for error reporting.
struct JSONIndexKey: CodingKey {
    let index: Int

    init(_ index: Int) {
        self.index = index
    }

    init?(stringValue: String) {
        return nil
    }

    init(intValue: Int) {
        index = intValue
    }

    var stringValue: String { "Index \(index)" }

    var intValue: Int? { index }
}
