import Foundation
import Postgres

/// A household as the API returns it.
public struct Household: Encodable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// An IANA timezone name, such as `Europe/Berlin`; quiet hours and plans follow it.
    public var timezone: String
    public var createdAt: String
    public var updatedAt: String
    public var deletedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, timezone
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case deletedAt = "deleted_at"
    }

    /// The columns ``init(row:)`` reads, for a `SELECT` or `RETURNING` list.
    static let columns = """
        id, name, timezone, jules_rfc3339(created_at) AS created_at, jules_rfc3339(updated_at) AS updated_at, \
        jules_rfc3339(deleted_at) AS deleted_at
        """

    init(row: PostgresRow) throws(PostgresError) {
        id = try row.decode("id")
        name = try row.decode("name")
        timezone = try row.decode("timezone")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        deletedAt = try row.decode("deleted_at")
    }
}
