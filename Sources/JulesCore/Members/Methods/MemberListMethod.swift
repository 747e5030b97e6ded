import Foundation
import JSONRPC

/// `member.list`: a household's members, oldest first, a page at a time.
///
/// A member whose name and number cannot be decrypted (a key removed too early, altered data) is listed without
/// them and marked `unreadable` (``Members/answer(_:revealPhone:logger:)``), rather than failing the whole page: the
/// rest of the household stays readable and the operator sees which members need attention.
struct MemberListMethod: JSONRPCMethod {
    static let name = "member.list"

    struct Params: Decodable, Sendable {
        var householdID: UUID
        var includeDeleted: Bool?
        var limit: Int?
        /// The last member of the previous page (its `next_after`).
        var after: UUID?

        enum CodingKeys: String, CodingKey {
            case limit, after
            case householdID = "household_id"
            case includeDeleted = "include_deleted"
        }
    }

    struct Result: Encodable, Sendable {
        var members: [Member]
        /// Where the next page starts; absent on the last page.
        var nextAfter: String?

        enum CodingKeys: String, CodingKey {
            case members
            case nextAfter = "next_after"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        let limit = try InputRules.limit(params.limit)
        guard try await members.store.household(id: params.householdID) != nil else {
            throw Members.householdNotFound(params.householdID)
        }
        let records = try await members.store.members(
            householdID: params.householdID,
            includeDeleted: params.includeDeleted ?? false,
            after: params.after,
            limit: limit
        )
        return Result(
            members: records.map { members.answer($0, logger: context.logger) },
            nextAfter: records.count == limit ? records.last?.id.lowercasedText : nil
        )
    }
}
