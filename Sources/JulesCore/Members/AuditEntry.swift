import Foundation
import Postgres

/// One row of the opt-in audit log.
public struct AuditEntry: Encodable, Sendable, Equatable {
    public var id: Int64
    public var memberID: String
    public var householdID: String
    public var oldState: OptInState?
    public var newState: OptInState
    public var source: OptInSource
    public var keyword: String?
    public var messageSID: String?
    public var correlationID: String?
    public var changedAt: String

    enum CodingKeys: String, CodingKey {
        case id
        case memberID = "member_id"
        case householdID = "household_id"
        case oldState = "old_state"
        case newState = "new_state"
        case source, keyword
        case messageSID = "message_sid"
        case correlationID = "correlation_id"
        case changedAt = "changed_at"
    }

    static let columns = """
        id, member_id, household_id, old_state, new_state, source, keyword, message_sid, correlation_id, \
        jules_rfc3339(changed_at) AS changed_at
        """

    init(row: PostgresRow) throws(PostgresError) {
        id = try row.decode("id")
        memberID = try row.decode("member_id")
        householdID = try row.decode("household_id")
        oldState = try (row.decode("old_state") as String?).map { text throws(PostgresError) in
            try Self.state(text)
        }
        newState = try Self.state(try row.decode("new_state"))
        guard let source = OptInSource(rawValue: try row.decode("source")) else {
            throw PostgresError(code: .decodingFailed, message: "unknown source in opt_in_audit_log")
        }
        self.source = source
        keyword = try row.decode("keyword")
        messageSID = try row.decode("message_sid")
        correlationID = try row.decode("correlation_id")
        changedAt = try row.decode("changed_at")
    }

    private static func state(_ text: String) throws(PostgresError) -> OptInState {
        guard let state = OptInState(rawValue: text) else {
            throw PostgresError(code: .decodingFailed, message: "unknown opt-in state in opt_in_audit_log")
        }
        return state
    }
}
