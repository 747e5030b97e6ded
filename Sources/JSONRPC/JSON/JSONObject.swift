/// A JSON object: key/value pairs in the order they were parsed or inserted.
///
/// Order is kept so that serialization is stable and predictable, but equality and hashing treat the object as an
/// unordered map, as JSON's data model does. When a key occurs more than once (which RFC 8259 allows parsers to
/// accept), lookups and comparisons see only the last occurrence, matching JavaScript and Python; all stored pairs
/// are still visited by iteration and written by the serializer.
///
/// Lookups are linear scans: JSON-RPC objects are small, and a scan over a few short keys beats hashing them.
public struct JSONObject: Sendable, Sequence {
    /// One stored key/value pair.
    public typealias Element = (key: String, value: JSONValue)

    /// The stored pairs, in order, including any duplicated keys.
    public private(set) var pairs: [Element]

    /// Creates an empty object.
    public init() {
        pairs = []
    }

    /// Creates an object from pairs, keeping their order and any duplicated keys.
    public init(_ pairs: [(String, JSONValue)]) {
        self.pairs = pairs.map { (key: $0.0, value: $0.1) }
    }

    /// Adopts already-labelled pairs without copying them; used by the parser and the encoder.
    init(storage: [Element]) {
        pairs = storage
    }

    /// The number of stored pairs, counting duplicated keys once per occurrence.
    public var count: Int { pairs.count }

    /// Whether the object has no pairs.
    public var isEmpty: Bool { pairs.isEmpty }

    /// The keys in stored order, including duplicates.
    public var keys: [String] { pairs.map(\.key) }

    /// The values in stored order.
    public var values: [JSONValue] { pairs.map(\.value) }

    /// Reads or writes the value for `key`.
    ///
    /// Reading returns the last occurrence of a duplicated key. Writing a value replaces the value at the key's first
    /// position and removes later duplicates, or appends the pair if the key is new; writing `nil` removes every
    /// occurrence.
    public subscript(key: String) -> JSONValue? {
        get {
            // Scan backwards so that the last duplicate wins without a second pass.
            var index = pairs.count
            while index > 0 {
                index -= 1
                if pairs[index].key == key { return pairs[index].value }
            }
            return nil
        }
        set {
            guard let newValue else {
                pairs.removeAll { $0.key == key }
                return
            }
            guard let first = pairs.firstIndex(where: { $0.key == key }) else {
                pairs.append((key: key, value: newValue))
                return
            }
            pairs[first].value = newValue
            var index = pairs.count - 1
            while index > first {
                if pairs[index].key == key { pairs.remove(at: index) }
                index -= 1
            }
        }
    }

    /// Appends a pair without looking for an existing key, keeping any duplicate.
    public mutating func append(key: String, value: JSONValue) {
        pairs.append((key: key, value: value))
    }

    /// Returns an iterator over the stored pairs in order.
    public func makeIterator() -> IndexingIterator<[Element]> {
        pairs.makeIterator()
    }

    /// The number of stored pairs.
    public var underestimatedCount: Int { pairs.count }

    /// The object as a dictionary, applying the last-wins rule to duplicated keys.
    public var dictionary: [String: JSONValue] {
        Dictionary(pairs.lazy.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}

extension JSONObject: Hashable {
    /// Compares the objects as unordered maps with last-wins duplicate handling.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        // Most comparisons are between objects built the same way; identical sequences are equal maps.
        if lhs.pairs.count == rhs.pairs.count
            && zip(lhs.pairs, rhs.pairs).allSatisfy({ $0.key == $1.key && $0.value == $1.value })
        {
            return true
        }
        return lhs.dictionary == rhs.dictionary
    }

    /// Hashes the object as an unordered map, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        let map = dictionary
        // Entries are hashed independently and summed so that their order cannot affect the result.
        var sum: UInt = 0
        for (key, value) in map {
            var entryHasher = Hasher()
            entryHasher.combine(key)
            entryHasher.combine(value)
            sum &+= UInt(bitPattern: entryHasher.finalize())
        }
        hasher.combine(map.count)
        hasher.combine(sum)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Creates an object keeping the literal's key order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
