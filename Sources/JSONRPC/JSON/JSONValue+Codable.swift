/// `JSONValue` works with any `Encoder` and `Decoder`, including Foundation's.
///
/// With ``JSONValueEncoder`` and ``JSONValueDecoder`` the value is passed through untouched. Other coders only know
/// Swift's primitive types, so numbers go through `Int64`, `UInt64` or `Double`: number text such as `1.50` or an
/// integer beyond 64 bits is then re-written (`1.5`, or a rounded double). Object key order is preserved only if the
/// other coder preserves it.
extension JSONValue: Codable {
    /// Decodes any JSON value from the decoder's current position.
    public init(from decoder: any Decoder) throws {
        if let decoder = decoder as? JSONDecoderImpl {
            self = decoder.value
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .number(String(value))
        } else if let value = try? single.decode(UInt64.self) {
            self = .number(String(value))
        } else if let value = try? single.decode(Double.self) {
            self = JSONValue(value)
        } else if let value = try? single.decode(String.self) {
            self = .string(value)
        } else if let keyed = try? decoder.container(keyedBy: JSONCodingKey.self) {
            var pairs: [JSONObject.Element] = []
            for key in keyed.allKeys {
                pairs.append((key: key.stringValue, value: try keyed.decode(JSONValue.self, forKey: key)))
            }
            self = .object(JSONObject(storage: pairs))
        } else if var unkeyed = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !unkeyed.isAtEnd {
                elements.append(try unkeyed.decode(JSONValue.self))
            }
            self = .array(elements)
        } else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "Not a JSON value.")
            )
        }
    }

    /// Encodes the value; numbers that fit no Swift primitive exactly are encoded as the nearest `Double`.
    public func encode(to encoder: any Encoder) throws {
        if let encoder = encoder as? JSONEncoderImpl {
            encoder.setSingle(self)
            return
        }
        switch self {
        case .null:
            var single = encoder.singleValueContainer()
            try single.encodeNil()
        case .bool(let value):
            var single = encoder.singleValueContainer()
            try single.encode(value)
        case .number(let text):
            var single = encoder.singleValueContainer()
            if let value = JSONNumberText.integer(text, as: Int64.self) {
                try single.encode(value)
            } else if let value = JSONNumberText.integer(text, as: UInt64.self) {
                try single.encode(value)
            } else if let value = JSONNumberText.double(text) {
                try single.encode(value)
            } else {
                throw EncodingError.invalidValue(
                    self,
                    EncodingError.Context(
                        codingPath: encoder.codingPath,
                        debugDescription: "Number text \(text) cannot be represented by the target encoder."
                    )
                )
            }
        case .string(let value):
            var single = encoder.singleValueContainer()
            try single.encode(value)
        case .array(let elements):
            var unkeyed = encoder.unkeyedContainer()
            for element in elements {
                try unkeyed.encode(element)
            }
        case .object(let object):
            var keyed = encoder.container(keyedBy: JSONCodingKey.self)
            for (key, value) in object.pairs {
                try keyed.encode(value, forKey: JSONCodingKey(key))
            }
        }
    }
}
