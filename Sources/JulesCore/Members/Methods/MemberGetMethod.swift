import Foundation
import JSONRPC

/// `member.get`: a member by id, deleted and erased ones included; the number is masked unless `reveal_phone`.
struct MemberGetMethod: JSONRPCMethod {
    static let name = "member.get"

    struct Params: Decodable, Sendable {
        var memberID: UUID
        var revealPhone: Bool?

        enum CodingKeys: String, CodingKey {
            case memberID = "member_id"
            case revealPhone = "reveal_phone"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Member {
        let record = try await members.existingMember(params.memberID)
        return members.answer(record, revealPhone: params.revealPhone ?? false, logger: context.logger)
    }
}
