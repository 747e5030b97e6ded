import JSONRPC

/// `household.create`: a new household, with its IANA timezone (UTC when not given).
struct HouseholdCreateMethod: JSONRPCMethod {
    static let name = "household.create"

    struct Params: Decodable, Sendable {
        var name: String
        var timezone: String?
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Household {
        let name = try InputRules.name(params.name, field: "params.name", maximumLength: 200)
        let timezone = params.timezone ?? "UTC"
        let invalidTimezone = JSONRPCError.invalidParams(
            field: "params.timezone",
            reason: "must be an IANA timezone name such as Europe/Berlin or America/New_York"
        )
        // The table's check is 1 to 64 characters; the zone names are ASCII.
        guard (1...64).contains(timezone.utf8.count) else { throw invalidTimezone }
        // One round trip: the table's foreign key to the zone names is the check.
        guard let household = try await members.store.createHousehold(name: name, timezone: timezone) else {
            throw invalidTimezone
        }
        return household
    }
}
