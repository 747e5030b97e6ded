/// Decodes `Decodable` types from an already-parsed ``JSONValue``, without Foundation.
///
/// Behaviour matches Foundation's `JSONDecoder` with default options, with stricter numbers:
/// - Integer types accept only integer text that fits (`1.5`, `1e3` and `1.0` are rejected for `Int`); `Double`
///   and `Float` accept any number whose magnitude they can hold.
/// - A missing key throws `keyNotFound`; `null` for a non-optional throws `valueNotFound`; `decodeIfPresent` (used
///   by synthesized code for optionals) returns `nil` for both.
/// - Errors are standard `DecodingError`s whose `codingPath` names the offending member, including array indices;
///   ``describe(_:)`` turns them into a field path and a short reason for JSON-RPC `-32602` responses.
/// - Decoding `JSONValue` itself (at the top or in any member) returns the stored value without conversion.
public struct JSONValueDecoder: Sendable {
    /// Values made available to `Decodable` types through `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    /// Creates a decoder.
    public init() {}

    /// Decodes a value of type `T` from `value`.
    ///
    /// - Throws: `DecodingError` describing the first mismatch.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        let info: [CodingUserInfoKey: Any] = userInfo.isEmpty ? [:] : userInfo.mapValues { $0 as Any }
        return try JSONDecoderImpl.decode(T.self, from: value, path: .root, key: nil, userInfo: info)
    }

    /// Summarises a decoding error as the offending field and a short reason.
    ///
    /// The field is written as a path such as `messages[3].body`; it is empty when the top-level value itself is
    /// wrong, so a caller decoding `params` may substitute `"params"`. Reasons are lower-case phrases meant to follow
    /// the field name: `"is required"`, `"must not be null"`, `"expected a string, found a number"`. Errors from
    /// other decoders (such as Foundation's) are described from their case and message.
    public static func describe(_ error: DecodingError) -> (field: String, reason: String) {
        switch error {
        case .keyNotFound(let key, let context):
            return (fieldPath(context.codingPath + [key]), reason(context) ?? "is required")
        case .valueNotFound(_, let context):
            let fallback = context.debugDescription.contains("at end") ? "is required" : "must not be null"
            return (fieldPath(context.codingPath), reason(context) ?? fallback)
        case .typeMismatch(let type, let context):
            let expected = JSONUnbox.noun(for: type)
            let fallback =
                foundKind(in: context.debugDescription).map { "expected \(expected), found \($0)" }
                ?? "expected \(expected)"
            return (fieldPath(context.codingPath), reason(context) ?? fallback)
        case .dataCorrupted(let context):
            return (fieldPath(context.codingPath), reason(context) ?? "is invalid")
        @unknown default:
            return ("", "is invalid")
        }
    }

    /// Renders a coding path as `a.b[2].c`.
    public static func fieldPath(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue, key is JSONIndexKey || key.stringValue == "Index \(index)" {
                result += "[\(index)]"
            } else {
                if !result.isEmpty { result += "." }
                result += key.stringValue
            }
        }
        return result
    }

    private static func reason(_ context: DecodingError.Context) -> String? {
        (context.underlyingError as? JSONDecodingReason)?.reason
    }

    /// Extracts "X" from Foundation-style messages "Expected to decode T but found X instead."
    private static func foundKind(in message: String) -> String? {
        guard let start = message.firstRange(of: "but found "), let end = message.firstRange(of: " instead") else {
            return nil
        }
        guard start.upperBound <= end.lowerBound else { return nil }
        return String(message[start.upperBound..<end.lowerBound])
    }
}
