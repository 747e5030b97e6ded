/// A JSON document held in memory.
///
/// Numbers are kept as their JSON text (`.number("1.50")`) rather than converted to a binary type, so a request id
/// such as `12345678901234567890` or `1.50` is echoed back byte-for-byte. A consequence is that equality of numbers
/// is textual: `.number("1")` and `.number("1.0")` are different values.
///
/// Objects keep their key order (see ``JSONObject``) but compare equal as unordered maps.
public enum JSONValue: Sendable, Hashable {
    /// The JSON literal `null`.
    case null
    /// The JSON literals `true` and `false`.
    case bool(Bool)
    /// A JSON number, stored as its exact JSON text.
    ///
    /// The text must follow the RFC 8259 number grammar; it is written out verbatim by the serializer. Use
    /// ``init(numberText:)`` when the text comes from an untrusted source.
    case number(String)
    /// A JSON string.
    case string(String)
    /// A JSON array.
    case array([JSONValue])
    /// A JSON object, keeping key order.
    case object(JSONObject)
}

// MARK: - Convenience initializers

extension JSONValue {
    /// Creates a number from an integer, stored as its decimal text.
    public init(_ int: Int) {
        self = .number(String(int))
    }

    /// Creates a number from a floating-point value.
    ///
    /// The text is Swift's shortest round-trip representation (`3.0`, `0.1`, `1e-07`, `1e+20`), all of which are
    /// valid JSON. JSON cannot represent NaN or infinity, so a non-finite value becomes `.null`, mirroring
    /// JavaScript's `JSON.stringify`. Use ``JSONValueEncoder`` when a non-finite value should be an error instead.
    public init(_ double: Double) {
        self = double.isFinite ? .number(double.description) : .null
    }

    /// Creates a number from JSON number text, or returns `nil` if the text is not a valid RFC 8259 number.
    public init?(numberText: String) {
        var text = numberText
        let isValid = text.withUTF8 { JSONNumberText.isValid(UnsafeRawBufferPointer($0)) }
        guard isValid else { return nil }
        self = .number(numberText)
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The string payload, or `nil` if this is not a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, or `nil` unless this is a number written as an integer (no fraction or exponent)
    /// that fits in `Int`.
    public var intValue: Int? {
        if case .number(let text) = self { return JSONNumberText.integer(text, as: Int.self) }
        return nil
    }

    /// The number as a `Double`, or `nil` if this is not a number or its magnitude is too large for `Double`.
    ///
    /// Integers beyond 2^53 lose precision, as they would in any JSON implementation that uses doubles.
    public var doubleValue: Double? {
        if case .number(let text) = self { return JSONNumberText.double(text) }
        return nil
    }

    /// The boolean payload, or `nil` if this is not `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, or `nil` if this is not an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The object, or `nil` if this is not an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Whether this is the JSON literal `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value stored under `key` if this is an object containing it; the last occurrence wins when the key is
    /// duplicated. Returns `nil` for missing keys and for non-objects.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// A short English description of the kind of value, used in error messages ("a string", "null", ...).
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    /// Creates `.null`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// Creates `.bool`.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// Creates a number from an integer literal.
    public init(integerLiteral value: Int) {
        self.init(value)
    }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// Creates a number from a floating-point literal; non-finite values become `.null`.
    public init(floatLiteral value: Double) {
        self.init(value)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Creates `.string`.
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// Creates `.array`.
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates `.object`, keeping the literal's key order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}
