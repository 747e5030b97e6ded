#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A query parameter, or a result value decoded by its column type.
///
/// Parameters are always sent separately from the SQL text (`PQexecParams`), never interpolated into it.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL; the server infers its type from context.
    case null
    /// `bool`.
    case bool(Bool)
    /// `int8`; the server converts it where an `int2`/`int4`/`numeric` is expected.
    case int(Int64)
    /// `float8`, including NaN and ±infinity.
    case double(Double)
    /// Text of a type the server infers from context, exactly like a quoted SQL literal: it fits `text`, `varchar`,
    /// and any other type that accepts the string (e.g. `'42'` into an `integer` column).
    case text(String)
    /// `bytea`, sent in binary format.
    case bytes([UInt8])
    /// JSON text, sent as `jsonb`.
    case json(String)
    /// `uuid`.
    case uuid(UUID)
    /// `timestamptz`.
    case timestamp(PostgresTimestamp)

    /// The type sent with the parameter; `.unknown` lets the server infer it.
    var parameterType: PostgresDataType {
        switch self {
        case .null, .text: .unknown
        case .bool: .bool
        case .int: .int8
        case .double: .float8
        case .bytes: .bytea
        case .json: .jsonb
        case .uuid: .uuid
        case .timestamp: .timestamptz
        }
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    /// `"abc"` is ``PostgresValue/text(_:)``.
    public init(stringLiteral value: String) { self = .text(value) }
    /// `42` is ``PostgresValue/int(_:)``.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// `1.5` is ``PostgresValue/double(_:)``.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `true` is ``PostgresValue/bool(_:)``.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `nil` is ``PostgresValue/null``.
    public init(nilLiteral: ()) { self = .null }
}
