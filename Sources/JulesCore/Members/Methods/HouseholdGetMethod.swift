import Foundation
import JSONRPC

/// `household.get`: a household by id, deleted ones included (they show `deleted_at`).
struct HouseholdGetMethod: JSONRPCMethod {
    static let name = "household.get"

    struct Params: Decodable, Sendable {
        var householdID: UUID

        enum CodingKeys: String, CodingKey {
            case householdID = "household_id"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Household {
        guard let household = try await members.store.household(id: params.householdID) else {
            throw Members.householdNotFound(params.householdID)
        }
        return household
    }
}
