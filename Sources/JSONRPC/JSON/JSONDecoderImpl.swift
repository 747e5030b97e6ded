/// The `Decoder` handed to `Decodable` types by ``JSONValueDecoder``; it also serves as its own single-value
/// container. A value type, because decoders never mutate shared state and structs avoid an allocation per level.
struct JSONDecoderImpl: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try JSONDecoderImpl.keyedContainer(value, keyedBy: Key.self, codingPath: codingPath, userInfo: userInfo)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try JSONDecoderImpl.unkeyedContainer(value, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        self
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try JSONUnbox.bool(value, codingPath, nil) }
    func decode(_ type: String.Type) throws -> String { try JSONUnbox.string(value, codingPath, nil) }
    func decode(_ type: Double.Type) throws -> Double { try JSONUnbox.double(value, codingPath, nil) }
    func decode(_ type: Float.Type) throws -> Float { try JSONUnbox.float(value, codingPath, nil) }
    func decode(_ type: Int.Type) throws -> Int { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: Int8.Type) throws -> Int8 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: Int16.Type) throws -> Int16 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: Int32.Type) throws -> Int32 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: Int64.Type) throws -> Int64 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: UInt.Type) throws -> UInt { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONUnbox.integer(value, as: type, codingPath, nil) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONUnbox.integer(value, as: type, codingPath, nil) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoderImpl.decode(T.self, from: value, codingPath: codingPath, key: nil, userInfo: userInfo)
    }

    // MARK: Shared entry points for containers

    /// Decodes `T` from `value` found at `codingPath` + `key`.
    ///
    /// `JSONValue` and the commonest leaf types are unboxed directly: that skips creating a nested decoder (and the
    /// path array it needs) for every array element or dictionary value.
    static func decode<T: Decodable>(
        _ type: T.Type,
        from value: JSONValue,
        codingPath: [any CodingKey],
        key: (any CodingKey)?,
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> T {
        if T.self == JSONValue.self, let result = value as? T { return result }
        if T.self == String.self, let result = try JSONUnbox.string(value, codingPath, key) as? T { return result }
        if T.self == Int.self, let result = try JSONUnbox.integer(value, as: Int.self, codingPath, key) as? T {
            return result
        }
        if T.self == Bool.self, let result = try JSONUnbox.bool(value, codingPath, key) as? T { return result }
        if T.self == Double.self, let result = try JSONUnbox.double(value, codingPath, key) as? T { return result }
        let decoder = JSONDecoderImpl(value: value, codingPath: JSONUnbox.join(codingPath, key), userInfo: userInfo)
        return try T(from: decoder)
    }

    static func keyedContainer<Key: CodingKey>(
        _ value: JSONValue,
        keyedBy type: Key.Type,
        codingPath: [any CodingKey],
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw containerMismatch(JSONObject.self, value, codingPath, what: "keyed decoding container")
        }
        return KeyedDecodingContainer(
            JSONKeyedDecodingContainer<Key>(object: object, codingPath: codingPath, userInfo: userInfo)
        )
    }

    static func unkeyedContainer(
        _ value: JSONValue,
        codingPath: [any CodingKey],
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> JSONUnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw containerMismatch([JSONValue].self, value, codingPath, what: "unkeyed decoding container")
        }
        return JSONUnkeyedDecodingContainer(elements: elements, codingPath: codingPath, userInfo: userInfo)
    }

    private static func containerMismatch(
        _ expected: Any.Type,
        _ value: JSONValue,
        _ codingPath: [any CodingKey],
        what: String
    ) -> DecodingError {
        if value.isNull {
            return DecodingError.valueNotFound(
                expected,
                JSONUnbox.context(
                    codingPath,
                    "Cannot get \(what) -- found null value instead.",
                    reason: "must not be null"
                )
            )
        }
        return JSONUnbox.mismatch(expected, found: value, codingPath, nil)
    }
}
