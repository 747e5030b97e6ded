/// Sequential access to a JSON array for ``JSONValueDecoder``.
///
/// As in Foundation, `currentIndex` advances only when a decode succeeds, and reading past the end throws
/// `valueNotFound`. Element errors carry the element's index in their coding path.
struct JSONUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let path: JSONCodingPath
    let userInfo: [CodingUserInfoKey: Any]
    private(set) var currentIndex = 0

    init(elements: [JSONValue], path: JSONCodingPath, userInfo: [CodingUserInfoKey: Any]) {
        self.elements = elements
        self.path = path
        self.userInfo = userInfo
    }

    var codingPath: [any CodingKey] { path.keys }

    var count: Int? { elements.count }

    var isAtEnd: Bool { currentIndex >= elements.count }

    private var currentKey: JSONIndexKey { JSONIndexKey(currentIndex) }

    private func peek(_ type: Any.Type) throws -> JSONValue {
        guard currentIndex < elements.count else {
            throw DecodingError.valueNotFound(
                type,
                JSONUnbox.context(
                    JSONUnbox.join(path, currentKey),
                    "Unkeyed container is at end.",
                    reason: "is required"
                )
            )
        }
        return elements[currentIndex]
    }

    /// Advances past the element just decoded and returns the result; only reached when decoding succeeded.
    @inline(__always)
    private mutating func advance<T>(returning result: T) -> T {
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard try peek(JSONValue.self).isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        advance(returning: try JSONUnbox.bool(peek(type), path, currentKey))
    }

    mutating func decode(_ type: String.Type) throws -> String {
        advance(returning: try JSONUnbox.string(peek(type), path, currentKey))
    }

    mutating func decode(_ type: Double.Type) throws -> Double {
        advance(returning: try JSONUnbox.double(peek(type), path, currentKey))
    }

    mutating func decode(_ type: Float.Type) throws -> Float {
        advance(returning: try JSONUnbox.float(peek(type), path, currentKey))
    }

    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        advance(returning: try JSONUnbox.integer(peek(T.self), as: T.self, path, currentKey))
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try peek(type)
        return advance(
            returning: try JSONDecoderImpl.decode(
                T.self,
                from: value,
                path: path,
                key: currentKey,
                userInfo: userInfo
            )
        )
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let value = try peek(JSONObject.self)
        return advance(
            returning: try JSONDecoderImpl.keyedContainer(
                value,
                keyedBy: NestedKey.self,
                path: path.appending(currentKey),
                userInfo: userInfo
            )
        )
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let value = try peek([JSONValue].self)
        return advance(
            returning: try JSONDecoderImpl.unkeyedContainer(
                value, path: path.appending(currentKey), userInfo: userInfo)
        )
    }

    mutating func superDecoder() throws -> any Decoder {
        let value = try peek(JSONValue.self)
        return advance(
            returning: JSONDecoderImpl(value: value, path: path.appending(currentKey), userInfo: userInfo))
    }
}
