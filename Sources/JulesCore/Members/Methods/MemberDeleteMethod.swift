import Foundation
import JSONRPC
import Logging

/// `member.delete`: a soft delete; the member is never texted again and the number can be added anew.
struct MemberDeleteMethod: JSONRPCMethod {
    static let name = "member.delete"

    struct Params: Decodable, Sendable {
        var memberID: UUID

        enum CodingKeys: String, CodingKey {
            case memberID = "member_id"
        }
    }

    let members: Members

    func handle(_ params: Params, context: RequestContext) async throws -> Member {
        guard let record = try await members.store.delete(memberID: params.memberID) else {
            throw Members.memberNotFound(params.memberID)
        }
        return members.answer(record, logger: context.logger)
    }
}

/// `member.erase`: removes a member's name and number for good (GDPR erasure) and deletes the member.
///
/// The blind index stays, so the audit rows (which are keyed by it) still answer "did this number opt out?".
struct MemberEraseMethod: JSONRPCMethod {
    static let name = "member.erase"

    let members: Members

    func handle(_ params: MemberDeleteMethod.Params, context: RequestContext) async throws -> Member {
        guard let record = try await members.store.erase(memberID: params.memberID) else {
            throw Members.memberNotFound(params.memberID)
        }
        context.logger.info("member erased", metadata: ["member_id": .string(record.id.lowercasedText)])
        return members.answer(record, logger: context.logger)
    }
}
