#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PostgresValue: PostgresDecodable {
    /// Picks the case from the column type: NULL becomes ``PostgresValue/null``, types without a case of their own
    /// (numeric, date, interval, arrays, …) become ``PostgresValue/text(_:)`` with PostgreSQL's text form.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> PostgresValue {
        guard cell.bytes != nil else { return .null }
        switch cell.type {
        case .bool: return .bool(try Bool.decode(from: cell))
        case .int2, .int4, .int8, .oidType: return .int(try Int64.decode(from: cell))
        case .float4, .float8: return .double(try Double.decode(from: cell))
        case .bytea: return .bytes(try [UInt8].decode(from: cell))
        case .json, .jsonb: return .json(try String.decode(from: cell))
        case .uuid: return .uuid(try UUID.decode(from: cell))
        case .timestamptz, .timestamp:
            // Infinite timestamps have no finite value; their text keeps the information.
            if let timestamp = try? PostgresTimestamp.decode(from: cell) { return .timestamp(timestamp) }
            return .text(try String.decode(from: cell))
        default: return .text(try String.decode(from: cell))
        }
    }
}
