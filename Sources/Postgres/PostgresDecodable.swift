/// A Swift type that a result value can be decoded into, by ``PostgresRow/decode(_:as:)-(String,_)``.
///
/// Conformances read ``PostgresCell/bytes`` (PostgreSQL's text format) according to ``PostgresCell/type``. A
/// non-optional conformance throws for NULL (``PostgresCell/nonNullBytes(for:)`` does that); `Optional` turns NULL
/// into `nil`.
public protocol PostgresDecodable: Sendable {
    /// Decodes one value.
    ///
    /// - Throws: ``PostgresError`` with code ``PostgresError/Code/decodingFailed``.
    static func decode(from cell: PostgresCell) throws(PostgresError) -> Self
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Self {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Bool {
        let bytes = try cell.nonNullBytes(for: Self.self)
        guard cell.type == .bool, bytes.count == 1 else { throw cell.mismatch(Self.self) }
        switch bytes.first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw cell.mismatch(Self.self)
        }
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int64 {
        let text = try cell.nonNullText(for: Self.self)
        // numeric is accepted when it holds an integer (e.g. count(*) over bigint sums); "1.5" fails below.
        guard cell.type.isInteger || cell.type == .numeric, let value = Int64(text) else {
            throw cell.mismatch(Self.self)
        }
        return value
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int {
        let value = try Int64.decode(from: cell)
        guard let int = Int(exactly: value) else { throw cell.mismatch(Self.self, detail: "out of range") }
        return int
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int32 {
        let value = try Int64.decode(from: cell)
        guard let int = Int32(exactly: value) else { throw cell.mismatch(Self.self, detail: "out of range") }
        return int
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Double {
        let text = try cell.nonNullText(for: Self.self)
        let numeric = cell.type == .float8 || cell.type == .float4 || cell.type == .numeric || cell.type.isInteger
        // Swift's parser reads PostgreSQL's "NaN", "Infinity" and "-Infinity" spellings too.
        guard numeric, let value = Double(text) else { throw cell.mismatch(Self.self) }
        return value
    }
}

extension String: PostgresDecodable {
    /// Any value's text form: exact for text types, PostgreSQL's own rendering for the others.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> String {
        try cell.nonNullText(for: Self.self)
    }
}

extension [UInt8]: PostgresDecodable {
    /// `bytea`, which arrives as `\x` followed by two hex digits per byte.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> [UInt8] {
        let bytes = try cell.nonNullBytes(for: Self.self)
        guard cell.type == .bytea, let decoded = ByteaHex.decode(bytes) else { throw cell.mismatch(Self.self) }
        return decoded
    }
}

extension PostgresTimestamp: PostgresDecodable {
    /// `timestamptz`; also `timestamp` (taken as UTC) and `date` (midnight UTC). Infinite values throw.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> PostgresTimestamp {
        let bytes = try cell.nonNullBytes(for: Self.self)
        guard cell.type == .timestamptz || cell.type == .timestamp || cell.type == .date else {
            throw cell.mismatch(Self.self)
        }
        guard let timestamp = PostgresTimestamp(postgresText: bytes) else {
            throw cell.mismatch(Self.self, detail: "not a finite ISO timestamp")
        }
        return timestamp
    }
}
