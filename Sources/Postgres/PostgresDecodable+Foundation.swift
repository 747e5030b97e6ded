#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension UUID: PostgresDecodable {
    /// `uuid`, or a text column holding one.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> UUID {
        let text = try cell.nonNullText(for: Self.self)
        guard cell.type == .uuid || cell.type.isString, let uuid = UUID(uuidString: text) else {
            throw cell.mismatch(Self.self)
        }
        return uuid
    }
}

extension Date: PostgresDecodable {
    /// `timestamptz`, `timestamp` or `date`, as ``PostgresTimestamp`` reads them (sub-microsecond precision of
    /// `Date` is not representable in PostgreSQL anyway).
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Date {
        try PostgresTimestamp.decode(from: cell).date
    }
}

extension PostgresTimestamp {
    /// The timestamp at `date`, rounded to the nearest microsecond.
    public init(_ date: Date) {
        self.init(secondsSince1970: date.timeIntervalSince1970)
    }

    /// The timestamp as a `Date`.
    public var date: Date {
        Date(timeIntervalSince1970: self.secondsSince1970)
    }
}
