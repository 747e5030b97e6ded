/// A PostgreSQL type, identified by its OID (`pg_type.oid`).
///
/// Results arrive in text format; ``PostgresDecodable`` conformances use the column's type to decide how to read the
/// text.
public struct PostgresDataType: Hashable, Sendable, CustomStringConvertible {
    /// The type's OID.
    public var oid: UInt32

    /// Wraps an OID.
    public init(oid: UInt32) {
        self.oid = oid
    }

    /// Lets the server infer the type from context, as it does for a quoted literal.
    public static let unknown = Self(oid: 0)
    /// `bool`.
    public static let bool = Self(oid: 16)
    /// `bytea`.
    public static let bytea = Self(oid: 17)
    /// `char`.
    public static let char = Self(oid: 18)
    /// `name`.
    public static let name = Self(oid: 19)
    /// `int8`.
    public static let int8 = Self(oid: 20)
    /// `int2`.
    public static let int2 = Self(oid: 21)
    /// `int4`.
    public static let int4 = Self(oid: 23)
    /// `text`.
    public static let text = Self(oid: 25)
    /// `oid`.
    public static let oidType = Self(oid: 26)
    /// `json`.
    public static let json = Self(oid: 114)
    /// `float4`.
    public static let float4 = Self(oid: 700)
    /// `float8`.
    public static let float8 = Self(oid: 701)
    /// `bpchar`.
    public static let bpchar = Self(oid: 1042)
    /// `varchar`.
    public static let varchar = Self(oid: 1043)
    /// `date`.
    public static let date = Self(oid: 1082)
    /// `timestamp`.
    public static let timestamp = Self(oid: 1114)
    /// `timestamptz`.
    public static let timestamptz = Self(oid: 1184)
    /// `numeric`.
    public static let numeric = Self(oid: 1700)
    /// `uuid`.
    public static let uuid = Self(oid: 2950)
    /// `jsonb`.
    public static let jsonb = Self(oid: 3802)

    public var description: String {
        switch self {
        case .bool: "bool"
        case .bytea: "bytea"
        case .char: "char"
        case .name: "name"
        case .int8: "int8"
        case .int2: "int2"
        case .int4: "int4"
        case .text: "text"
        case .oidType: "oid"
        case .json: "json"
        case .float4: "float4"
        case .float8: "float8"
        case .bpchar: "bpchar"
        case .varchar: "varchar"
        case .date: "date"
        case .timestamp: "timestamp"
        case .timestamptz: "timestamptz"
        case .numeric: "numeric"
        case .uuid: "uuid"
        case .jsonb: "jsonb"
        default: "oid \(self.oid)"
        }
    }

    /// Types whose text form is a plain decimal integer.
    var isInteger: Bool { self == .int2 || self == .int4 || self == .int8 || self == .oidType }
    /// Types whose text form is a string to take as it is.
    var isString: Bool { self == .text || self == .varchar || self == .bpchar || self == .name || self == .char }
}
