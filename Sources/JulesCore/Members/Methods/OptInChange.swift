import Foundation
import JSONRPC
import Logging

/// What `member.optIn` and `member.optOut` share: the parameters, the result, and the change itself.
enum OptInChange {
    struct Params: Decodable, Sendable {
        var memberID: UUID
        /// What caused the change; `api` when not given.
        var source: OptInSource?
        /// The keyword the member texted, for `sms_keyword`.
        var keyword: String?
        /// The Twilio sid of the message that caused the change.
        var messageSID: String?

        enum CodingKeys: String, CodingKey {
            case source, keyword
            case memberID = "member_id"
            case messageSID = "message_sid"
        }
    }

    struct Result: Encodable, Sendable {
        var member: Member
        /// `false` when the member already was in that state (then no audit row is written).
        var changed: Bool
    }

    static func apply(
        _ state: OptInState,
        _ params: Params,
        members: Members,
        context: RequestContext
    ) async throws -> Result {
        let source = params.source ?? .api
        guard source != .operator else {
            throw JSONRPCError.invalidParams(
                field: "params.source",
                reason: "must be api, sms_keyword or carrier (operator marks changes made outside the service)"
            )
        }
        let keyword = try InputRules.keyword(params.keyword)
        if source == .smsKeyword, keyword == nil {
            throw JSONRPCError.invalidParams(field: "params.keyword", reason: "is required when source is sms_keyword")
        }
        let audit = MemberStore.AuditContext(
            source: source,
            keyword: keyword,
            messageSID: try InputRules.messageSID(params.messageSID),
            correlationID: context.correlationID
        )
        switch try await members.store.setOptInState(memberID: params.memberID, to: state, audit: audit) {
        case .changed(let record):
            context.logger.info(
                "opt-in state changed",
                metadata: [
                    "member_id": .string(record.id.lowercasedText),
                    "opt_in_state": .string(state.rawValue),
                    "source": .string(source.rawValue),
                ]
            )
            return Result(member: members.answer(record, logger: context.logger), changed: true)
        case .unchanged(let record):
            return Result(member: members.answer(record, logger: context.logger), changed: false)
        case .deleted:
            throw JSONRPCError.notFound(
                "The member is deleted",
                details: ["member_id": .string(params.memberID.lowercasedText)]
            )
        case .notFound:
            throw Members.memberNotFound(params.memberID)
        }
    }
}

/// `member.optIn`: records that a member agreed to receive messages (START, or consent the caller has).
struct MemberOptInMethod: JSONRPCMethod {
    static let name = "member.optIn"
    let members: Members

    func handle(_ params: OptInChange.Params, context: RequestContext) async throws -> OptInChange.Result {
        try await OptInChange.apply(.optedIn, params, members: members, context: context)
    }
}

/// `member.optOut`: records that a member must not be texted any more (STOP, or the carrier's report).
struct MemberOptOutMethod: JSONRPCMethod {
    static let name = "member.optOut"
    let members: Members

    func handle(_ params: OptInChange.Params, context: RequestContext) async throws -> OptInChange.Result {
        try await OptInChange.apply(.optedOut, params, members: members, context: context)
    }
}
