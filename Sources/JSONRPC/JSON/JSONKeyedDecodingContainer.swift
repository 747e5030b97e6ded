/// Keyed access to a JSON object for ``JSONValueDecoder``.
///
/// Semantics follow Foundation's `JSONDecoder`: a missing key is `keyNotFound`, `null` for a non-optional is
/// `valueNotFound`, and `decodeIfPresent` returns `nil` for both a missing key and `null`.
struct JSONKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let path: JSONCodingPath
    let userInfo: [CodingUserInfoKey: Any]
    /// Built only for large objects, where repeated linear lookups would make decoding quadratic.
    private let index: [String: JSONValue]?

    init(object: JSONObject, path: JSONCodingPath, userInfo: [CodingUserInfoKey: Any]) {
        self.object = object
        self.path = path
        self.userInfo = userInfo
        self.index = object.count > 16 ? object.dictionary : nil
    }

    var codingPath: [any CodingKey] { path.keys }

    var allKeys: [Key] {
        var seen = Set<String>()
        var keys: [Key] = []
        for (name, _) in object.pairs where seen.insert(name).inserted {
            if let key = Key(stringValue: name) { keys.append(key) }
        }
        return keys
    }

    @inline(__always)
    private func lookup(_ key: Key) -> JSONValue? {
        if let index { return index[key.stringValue] }
        return object[key.stringValue]
    }

    func contains(_ key: Key) -> Bool {
        lookup(key) != nil
    }

    private func require(_ key: Key) throws -> JSONValue {
        guard let value = lookup(key) else {
            throw DecodingError.keyNotFound(
                key,
                JSONUnbox.context(
                    path.keys,
                    "No value associated with key \(key) (\"\(key.stringValue)\").",
                    reason: "is required"
                )
            )
        }
        return value
    }

    /// The value for `key` unless it is missing or `null`.
    @inline(__always)
    private func present(_ key: Key) -> JSONValue? {
        guard let value = lookup(key), !value.isNull else { return nil }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try require(key).isNull
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try JSONUnbox.bool(require(key), path, key)
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try JSONUnbox.string(require(key), path, key)
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try JSONUnbox.double(require(key), path, key)
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try JSONUnbox.float(require(key), path, key)
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    private func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try JSONUnbox.integer(require(key), as: T.self, path, key)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try JSONDecoderImpl.decode(T.self, from: require(key), path: path, key: key, userInfo: userInfo)
    }

    // The protocol's default decodeIfPresent looks the key up three times; these look it up once.

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try present(key).map { try JSONUnbox.bool($0, path, key) }
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try present(key).map { try JSONUnbox.string($0, path, key) }
    }

    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try present(key).map { try JSONUnbox.double($0, path, key) }
    }

    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try present(key).map { try JSONUnbox.float($0, path, key) }
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optionalInteger(key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optionalInteger(key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optionalInteger(key) }

    private func optionalInteger<T: FixedWidthInteger>(_ key: Key) throws -> T? {
        try present(key).map { try JSONUnbox.integer($0, as: T.self, path, key) }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = present(key) else { return nil }
        return try JSONDecoderImpl.decode(T.self, from: value, path: path, key: key, userInfo: userInfo)
    }

    // MARK: Nesting

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONDecoderImpl.keyedContainer(
            require(key),
            keyedBy: NestedKey.self,
            path: path.appending(key),
            userInfo: userInfo
        )
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONDecoderImpl.unkeyedContainer(require(key), path: path.appending(key), userInfo: userInfo)
    }

    /// Like Foundation, a missing `super` member decodes as `null` rather than failing here.
    func superDecoder() throws -> any Decoder {
        let key = JSONCodingKey.superKey
        let value = object[key.stringValue] ?? .null
        return JSONDecoderImpl(value: value, path: path.appending(key), userInfo: userInfo)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONDecoderImpl(value: lookup(key) ?? .null, path: path.appending(key), userInfo: userInfo)
    }
}
