import Foundation
import JSONRPC

/// `audit.list`: opt-in audit rows, oldest first, filtered by member, household or phone number.
struct AuditListMethod: JSONRPCMethod {
    static let name = "audit.list"

    struct Params: Decodable, Sendable {
        var memberID: UUID?
        var householdID: UUID?
        /// Finds the rows of a number even after its member was erased (through the blind index).
        var phone: String?
        var limit: Int?
        /// The last id of the previous page (its `next_after_id`).
        var afterID: Int64?

        enum CodingKeys: String, CodingKey {
            case phone, limit
            case memberID = "member_id"
            case householdID = "household_id"
            case afterID = "after_id"
        }
    }

    struct Result: Encodable, Sendable {
        var entries: [AuditEntry]
        /// Where the next page starts; absent on the last page.
        var nextAfterID: Int64?

        enum CodingKeys: String, CodingKey {
            case entries
            case nextAfterID = "next_after_id"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        let limit = try InputRules.limit(params.limit)
        if let afterID = params.afterID, afterID < 0 {
            throw JSONRPCError.invalidParams(field: "params.after_id", reason: "must not be negative")
        }
        let phoneIndex = try params.phone.map { text throws(JSONRPCError) in
            members.cipher.index(try members.phoneNumber(text, field: "params.phone"))
        }
        let entries = try await members.store.auditEntries(
            .init(memberID: params.memberID, householdID: params.householdID, phoneIndex: phoneIndex),
            afterID: params.afterID,
            limit: limit
        )
        return Result(entries: entries, nextAfterID: entries.count == limit ? entries.last?.id : nil)
    }
}
