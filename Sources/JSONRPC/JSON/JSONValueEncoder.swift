/// Encodes `Encodable` types into a ``JSONValue``, without Foundation.
///
/// - Object members appear in the order they are encoded; encoding the same key twice replaces the first value in
///   place.
/// - Integers become their decimal text. `Double` and `Float` become Swift's shortest round-trip text, which keeps
///   a fractional part for integral values (`3.0`) and uses an exponent for very large or small magnitudes
///   (`1e+20`, `1e-07`); all such forms are valid JSON. NaN and infinity throw `EncodingError.invalidValue`.
/// - `nil` optionals are omitted by synthesized code (`encodeIfPresent`); `encodeNil` writes `null`.
/// - A `JSONValue`, at the top or in any member, is inserted as is.
public struct JSONValueEncoder: Sendable {
    /// Values made available to `Encodable` types through `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    /// Creates an encoder.
    public init() {}

    /// Encodes `value` as a `JSONValue`.
    ///
    /// - Throws: `EncodingError.invalidValue` for non-finite floating-point values, or when the top-level value
    ///   encodes nothing at all.
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if T.self == JSONValue.self, let value = value as? JSONValue { return value }
        let info: [CodingUserInfoKey: Any] = userInfo.isEmpty ? [:] : userInfo.mapValues { $0 as Any }
        let encoder = JSONEncoderImpl(codingPath: [], userInfo: info)
        try value.encode(to: encoder)
        guard encoder.kind != .empty else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(
                    codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values.")
            )
        }
        return encoder.resolve()
    }
}
