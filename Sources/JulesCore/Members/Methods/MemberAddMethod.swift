import Foundation
import JSONRPC

/// `member.add`: a member of a live household, with a display name and a phone number in any common format.
///
/// The name and the number are stored only as Fernet tokens, the number also as its blind index. A number that
/// belongs to a live member already is a `conflict` naming that member; a deleted member's number can be used again.
struct MemberAddMethod: JSONRPCMethod {
    static let name = "member.add"

    struct Params: Decodable, Sendable {
        var householdID: UUID
        var name: String
        var phone: String
        /// The consent the caller already has; `pending` when not given.
        var optInState: OptInState?

        enum CodingKeys: String, CodingKey {
            case name, phone
            case householdID = "household_id"
            case optInState = "opt_in_state"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Member {
        let name = try InputRules.name(params.name, field: "params.name", maximumLength: 100)
        let phone = try members.phoneNumber(params.phone, field: "params.phone")
        let cipher = members.cipher
        let outcome = try await members.store.add(
            householdID: params.householdID,
            nameToken: cipher.seal(name),
            phoneToken: cipher.seal(phone.e164),
            phoneIndex: cipher.index(phone),
            keyID: cipher.currentKeyID,
            state: params.optInState ?? .pending,
            audit: .init(source: .api, correlationID: context.correlationID)
        )
        switch outcome {
        case .added(let record):
            return members.answer(record, logger: context.logger)
        case .householdNotFound:
            throw Members.householdNotFound(params.householdID, live: true)
        case .duplicate(let existing):
            throw JSONRPCError.conflict(
                "A live member already has this phone number",
                details: [
                    "member_id": .string(existing.id.lowercasedText),
                    "household_id": .string(existing.householdID.lowercasedText),
                ]
            )
        }
    }
}
