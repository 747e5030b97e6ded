/// The reason phrase attached as `underlyingError` to every `DecodingError` thrown by ``JSONValueDecoder``, so that
/// ``JSONValueDecoder/describe(_:)`` need not parse English debug descriptions.
struct JSONDecodingReason: Error, Sendable {
    let reason: String
}

/// Conversions from `JSONValue` to Swift primitives, producing Foundation-compatible `DecodingError`s.
///
/// The path is passed as the container's path plus an optional key and joined only when an error is thrown, because
/// building a path array for every successful field would be a large part of the cost of decoding small structs.
enum JSONUnbox {
    static func bool(_ value: JSONValue, _ path: JSONCodingPath, _ key: (any CodingKey)?) throws -> Bool {
        if case .bool(let result) = value { return result }
        throw mismatch(Bool.self, found: value, path, key)
    }

    static func string(_ value: JSONValue, _ path: JSONCodingPath, _ key: (any CodingKey)?) throws -> String {
        if case .string(let result) = value { return result }
        throw mismatch(String.self, found: value, path, key)
    }

    /// Accepts only integer text (optional minus and digits): `1.0` and `1e3` are rejected even though their values
    /// are integral, so a client sending a fractional id or count gets an error instead of silent truncation.
    static func integer<T: FixedWidthInteger>(
        _ value: JSONValue,
        as type: T.Type,
        _ path: JSONCodingPath,
        _ key: (any CodingKey)?
    ) throws -> T {
        guard case .number(let text) = value else { throw mismatch(T.self, found: value, path, key) }
        if let result = JSONNumberText.integer(text, as: T.self) { return result }
        let fullPath = join(path, key)
        if JSONNumberText.isIntegerText(text) {
            throw DecodingError.dataCorrupted(
                context(
                    fullPath,
                    "Parsed JSON number <\(text)> does not fit in \(T.self).",
                    reason: "must be an integer between \(T.min) and \(T.max)"
                )
            )
        }
        throw DecodingError.typeMismatch(
            T.self,
            context(
                fullPath,
                "Expected to decode \(T.self) but found non-integer number <\(text)> instead.",
                reason: "expected an integer, found \(text)"
            )
        )
    }

    static func double(_ value: JSONValue, _ path: JSONCodingPath, _ key: (any CodingKey)?) throws -> Double {
        guard case .number(let text) = value else { throw mismatch(Double.self, found: value, path, key) }
        if let result = JSONNumberText.double(text) { return result }
        throw unrepresentable(text, Double.self, path, key)
    }

    static func float(_ value: JSONValue, _ path: JSONCodingPath, _ key: (any CodingKey)?) throws -> Float {
        guard case .number(let text) = value else { throw mismatch(Float.self, found: value, path, key) }
        if let result = JSONNumberText.float(text) { return result }
        throw unrepresentable(text, Float.self, path, key)
    }

    /// The error for `value` not being of `expected` type; `null` is reported as a missing value like Foundation does.
    static func mismatch(
        _ expected: Any.Type,
        found value: JSONValue,
        _ path: JSONCodingPath,
        _ key: (any CodingKey)?
    ) -> DecodingError {
        let fullPath = join(path, key)
        if value.isNull {
            return DecodingError.valueNotFound(
                expected,
                context(
                    fullPath,
                    "Cannot get value of type \(expected) -- found null value instead.",
                    reason: "must not be null"
                )
            )
        }
        let expectedNoun = noun(for: expected)
        return DecodingError.typeMismatch(
            expected,
            context(
                fullPath,
                "Expected to decode \(expected) but found \(value.kindDescription) instead.",
                reason: "expected \(expectedNoun), found \(value.kindDescription)"
            )
        )
    }

    static func unrepresentable(
        _ text: String,
        _ type: Any.Type,
        _ path: JSONCodingPath,
        _ key: (any CodingKey)?
    ) -> DecodingError {
        DecodingError.dataCorrupted(
            context(
                join(path, key),
                "Parsed JSON number <\(text)> is not representable as \(type).",
                reason: "is out of range for \(type)"
            )
        )
    }

    static func context(_ path: [any CodingKey], _ debugDescription: String, reason: String) -> DecodingError.Context {
        DecodingError.Context(
            codingPath: path,
            debugDescription: debugDescription,
            underlyingError: JSONDecodingReason(reason: reason)
        )
    }

    static func join(_ path: JSONCodingPath, _ key: (any CodingKey)?) -> [any CodingKey] {
        path.appending(key).keys
    }

    /// An English noun phrase for an expected Swift type ("a string", "an integer", ...).
    static func noun(for type: Any.Type) -> String {
        if type == String.self || type == Character.self { return "a string" }
        if type == Bool.self { return "a boolean" }
        if type is any FixedWidthInteger.Type { return "an integer" }
        if type is any BinaryFloatingPoint.Type { return "a number" }
        if type == JSONObject.self { return "an object" }
        if type == [JSONValue].self { return "an array" }
        // Foundation reports containers as `[String: Any]` / `[Any]`; match any dictionary or array by name.
        let name = String(describing: type)
        if name.hasPrefix("Dictionary<") { return "an object" }
        if name.hasPrefix("Array<") { return "an array" }
        return "a value of type \(name)"
    }
}
