/// The `Decoder` handed to `Decodable` types by ``JSONValueDecoder``; it also serves as its own single-value
/// container. A value type, because decoders never mutate shared state and structs avoid an allocation per level.
struct JSONDecoderImpl: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let path: JSONCodingPath
    let userInfo: [CodingUserInfoKey: Any]

    var codingPath: [any CodingKey] { path.keys }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try JSONDecoderImpl.keyedContainer(value, keyedBy: Key.self, path: path, userInfo: userInfo)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try JSONDecoderImpl.unkeyedContainer(value, path: path, userInfo: userInfo)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        self
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try JSONUnbox.bool(value, path, nil) }
    func decode(_ type: String.Type) throws -> String { try JSONUnbox.string(value, path, nil) }
    func decode(_ type: Double.Type) throws -> Double { try JSONUnbox.double(value, path, nil) }
    func decode(_ type: Float.Type) throws -> Float { try JSONUnbox.float(value, path, nil) }
    func decode(_ type: Int.Type) throws -> Int { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: Int8.Type) throws -> Int8 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: Int16.Type) throws -> Int16 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: Int32.Type) throws -> Int32 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: Int64.Type) throws -> Int64 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: UInt.Type) throws -> UInt { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONUnbox.integer(value, as: type, path, nil) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONUnbox.integer(value, as: type, path, nil) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoderImpl.decode(T.self, from: value, path: path, key: nil, userInfo: userInfo)
    }

    // MARK: Shared entry points for containers

    /// Decodes `T` from `value` found at `path` + `key`.
    ///
    /// `JSONValue` and the commonest leaf types are unboxed directly: that skips creating a nested decoder (and the
    /// path array it needs) for every array element or dictionary value.
    static func decode<T: Decodable>(
        _ type: T.Type,
        from value: JSONValue,
        path: JSONCodingPath,
        key: (any CodingKey)?,
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> T {
        if T.self == JSONValue.self, let result = value as? T { return result }
        if T.self == String.self, let result = try JSONUnbox.string(value, path, key) as? T { return result }
        if T.self == Int.self, let result = try JSONUnbox.integer(value, as: Int.self, path, key) as? T {
            return result
        }
        if T.self == Bool.self, let result = try JSONUnbox.bool(value, path, key) as? T { return result }
        if T.self == Double.self, let result = try JSONUnbox.double(value, path, key) as? T { return result }
        if let direct = T.self as? any JSONValueDecodable.Type, let result = direct.init(decodingDirectly: value) {
            return result as! T
        }
        let decoder = JSONDecoderImpl(value: value, path: path.appending(key), userInfo: userInfo)
        return try T(from: decoder)
    }

    static func keyedContainer<Key: CodingKey>(
        _ value: JSONValue,
        keyedBy type: Key.Type,
        path: JSONCodingPath,
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw containerMismatch(JSONObject.self, value, path, what: "keyed decoding container")
        }
        return KeyedDecodingContainer(
            JSONKeyedDecodingContainer<Key>(object: object, path: path, userInfo: userInfo)
        )
    }

    static func unkeyedContainer(
        _ value: JSONValue,
        path: JSONCodingPath,
        userInfo: [CodingUserInfoKey: Any]
    ) throws -> JSONUnkeyedDecodingContainer {
        guard case .array(let elements) = value else {
            throw containerMismatch([JSONValue].self, value, path, what: "unkeyed decoding container")
        }
        return JSONUnkeyedDecodingContainer(elements: elements, path: path, userInfo: userInfo)
    }

    private static func containerMismatch(
        _ expected: Any.Type,
        _ value: JSONValue,
        _ path: JSONCodingPath,
        what: String
    ) -> DecodingError {
        if value.isNull {
            return DecodingError.valueNotFound(
                expected,
                JSONUnbox.context(
                    path.keys,
                    "Cannot get \(what) -- found null value instead.",
                    reason: "must not be null"
                )
            )
        }
        return JSONUnbox.mismatch(expected, found: value, path, nil)
    }
}
