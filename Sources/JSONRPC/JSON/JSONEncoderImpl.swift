/// The `Encoder` handed to `Encodable` types by ``JSONValueEncoder``, and the storage its containers write into.
///
/// A class because containers returned to the caller must keep writing into the same storage after they are
/// handed out. Values encoded with `encode(_:forKey:)` are resolved to a `JSONValue` as soon as their `encode(to:)`
/// returns; only nested containers and super-encoders, which stay live, are kept as references until the end.
final class JSONEncoderImpl: Encoder, SingleValueEncodingContainer {
    enum Kind {
        case empty
        case single
        case array
        case object
    }

    /// A member or element: either finished, or a live nested encoder resolved when the parent is.
    enum Slot {
        case value(JSONValue)
        case encoder(JSONEncoderImpl)

        func resolve() -> JSONValue {
            switch self {
            case .value(let value): value
            case .encoder(let encoder): encoder.resolve()
            }
        }
    }

    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]
    private(set) var kind = Kind.empty
    private var single = JSONValue.null
    private(set) var elements: [Slot] = []
    private var pairs: [(key: String, slot: Slot)] = []
    /// Key positions, maintained once an object grows past `linearLimit` so re-encoded keys stay cheap to find.
    private var keyIndex: [String: Int] = [:]
    private static let linearLimit = 16

    init(codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any]) {
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        becomeObject()
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        becomeArray()
        return JSONUnkeyedEncodingContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        self
    }

    // MARK: Storage

    /// Switches to object storage; asking again keeps what was written, so a type and its superclass can share one
    /// keyed container as they do with Foundation.
    func becomeObject() {
        guard kind != .object else { return }
        kind = .object
        pairs = []
        keyIndex = [:]
    }

    func becomeArray() {
        guard kind != .array else { return }
        kind = .array
        elements = []
    }

    func setSingle(_ value: JSONValue) {
        kind = .single
        single = value
    }

    /// Stores a member, replacing an earlier value for the same key in place as Foundation's encoder does.
    func set(_ slot: Slot, forKey key: String) {
        if pairs.count < Self.linearLimit {
            for position in pairs.indices where pairs[position].key == key {
                pairs[position].slot = slot
                return
            }
            pairs.append((key: key, slot: slot))
            if pairs.count == Self.linearLimit {
                for (position, pair) in pairs.enumerated() { keyIndex[pair.key] = position }
            }
        } else if let position = keyIndex[key] {
            pairs[position].slot = slot
        } else {
            keyIndex[key] = pairs.count
            pairs.append((key: key, slot: slot))
        }
    }

    func append(_ slot: Slot) {
        elements.append(slot)
    }

    /// Creates an encoder for a nested container or super-encoder one level below this one.
    func child(_ key: any CodingKey) -> JSONEncoderImpl {
        JSONEncoderImpl(codingPath: codingPath + [key], userInfo: userInfo)
    }

    /// The encoded value; a nested encoder that wrote nothing becomes `{}`, as with Foundation.
    func resolve() -> JSONValue {
        switch kind {
        case .empty: .object(JSONObject())
        case .single: single
        case .array: .array(elements.map { $0.resolve() })
        case .object: .object(JSONObject(storage: pairs.map { (key: $0.key, value: $0.slot.resolve()) }))
        }
    }

    /// Encodes `value` found at `codingPath` + `key` into a finished `JSONValue`.
    ///
    /// `JSONValue` and common leaf types skip the nested encoder, which matters for arrays and dictionaries.
    func box<T: Encodable>(_ value: T, key: (any CodingKey)?) throws -> JSONValue {
        if T.self == JSONValue.self, let value = value as? JSONValue { return value }
        if T.self == String.self, let value = value as? String { return .string(value) }
        if T.self == Int.self, let value = value as? Int { return .number(String(value)) }
        if T.self == Bool.self, let value = value as? Bool { return .bool(value) }
        let encoder = JSONEncoderImpl(codingPath: key.map { codingPath + [$0] } ?? codingPath, userInfo: userInfo)
        try value.encode(to: encoder)
        return encoder.resolve()
    }

    /// The JSON number for a floating-point value: Swift's shortest round-trip text, never NaN or infinity.
    static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: F,
        _ codingPath: [any CodingKey]
    ) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "Unable to encode \(F.self).\(value) directly in JSON."
                )
            )
        }
        return .number(value.description)
    }

    // MARK: SingleValueEncodingContainer

    func encodeNil() { setSingle(.null) }
    func encode(_ value: Bool) { setSingle(.bool(value)) }
    func encode(_ value: String) { setSingle(.string(value)) }
    func encode(_ value: Double) throws { setSingle(try Self.number(value, codingPath)) }
    func encode(_ value: Float) throws { setSingle(try Self.number(value, codingPath)) }
    func encode(_ value: Int) { setSingle(.number(String(value))) }
    func encode(_ value: Int8) { setSingle(.number(String(value))) }
    func encode(_ value: Int16) { setSingle(.number(String(value))) }
    func encode(_ value: Int32) { setSingle(.number(String(value))) }
    func encode(_ value: Int64) { setSingle(.number(String(value))) }
    func encode(_ value: UInt) { setSingle(.number(String(value))) }
    func encode(_ value: UInt8) { setSingle(.number(String(value))) }
    func encode(_ value: UInt16) { setSingle(.number(String(value))) }
    func encode(_ value: UInt32) { setSingle(.number(String(value))) }
    func encode(_ value: UInt64) { setSingle(.number(String(value))) }
    func encode<T: Encodable>(_ value: T) throws { setSingle(try box(value, key: nil)) }
}
