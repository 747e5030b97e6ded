import JSONRPC

/// `member.find`: the live member with this phone number, written in any format that normalises to it.
struct MemberFindMethod: JSONRPCMethod {
    static let name = "member.find"

    struct Params: Decodable, Sendable {
        var phone: String
        var revealPhone: Bool?

        enum CodingKeys: String, CodingKey {
            case phone
            case revealPhone = "reveal_phone"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Member {
        let phone = try members.phoneNumber(params.phone, field: "params.phone")
        guard let record = try await members.store.liveMember(phoneIndex: members.cipher.index(phone)) else {
            throw JSONRPCError.notFound("No live member has this phone number")
        }
        return members.answer(record, revealPhone: params.revealPhone ?? false, logger: context.logger)
    }
}
