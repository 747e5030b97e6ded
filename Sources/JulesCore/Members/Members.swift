import CoreMetrics
import Foundation
import JSONRPC
import Logging
import Postgres

/// The members capability: households, members and their opt-in audit trail, shared by its methods.
public struct Members: Sendable {
    let store: MemberStore
    /// Seals names and numbers, and indexes numbers.
    public let cipher: PIICipher
    /// The region of numbers written without an international prefix.
    public let defaultRegion: Region
    /// `jules_members_unreadable_total` by reason: members answered without their name and number because these
    /// could not be decrypted. Made up front so the series exist (at 0) before the first one.
    let unreadableCounters: [Member.Unreadable.Reason: Counter]

    /// - Parameters:
    ///   - database: Where households, members and the audit log live.
    ///   - cipher: The keys that protect names and numbers.
    ///   - defaultRegion: The region of numbers written without an international prefix (`JULES_DEFAULT_REGION`).
    ///   - metricsFactory: Where the capability's metrics are recorded.
    public init(
        database: PostgresClient,
        cipher: PIICipher,
        defaultRegion: Region = .us,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = MemberStore(database: database)
        self.cipher = cipher
        self.defaultRegion = defaultRegion
        var counters: [Member.Unreadable.Reason: Counter] = [:]
        for reason in [Member.Unreadable.Reason.keyNotConfigured, .undecryptable] {
            counters[reason] = Counter(
                label: "jules_members_unreadable_total", dimensions: [("reason", reason.rawValue)],
                factory: metricsFactory)
        }
        self.unreadableCounters = counters
    }

    /// The member as every method answers it: decrypted, the number masked unless `revealPhone`.
    ///
    /// When the name or number cannot be decrypted (a key removed before `jules reencrypt` finished, altered data),
    /// the member comes without them and marked `unreadable`, with a warning logged (member id, key id and reason,
    /// never a value or token) and `jules_members_unreadable_total` counted, rather than failing the request: what is
    /// not encrypted (id, household, opt-in state, times) is still true, and a change already made (an opt-out, a
    /// delete) must not be reported as a failure.
    func answer(_ record: MemberRecord, revealPhone: Bool = false, logger: Logger) -> Member {
        do {
            return try record.opened(with: cipher, revealPhone: revealPhone)
        } catch {
            let member = record.unreadable(with: cipher)
            let reason = member.unreadable?.reason ?? .undecryptable
            unreadableCounters[reason]?.increment()
            logger.warning(
                "a member's stored name or number cannot be decrypted; answered without them",
                metadata: [
                    "member_id": .string(member.id),
                    "key_id": .string(record.keyID ?? "none"),
                    "reason": .string(reason.rawValue),
                    "error": .string(String(describing: error)),
                ]
            )
            return member
        }
    }

    /// The methods of this capability.
    public var methods: [any JSONRPCMethod] {
        [
            HouseholdCreateMethod(members: self),
            HouseholdGetMethod(members: self),
            MemberAddMethod(members: self),
            MemberGetMethod(members: self),
            MemberFindMethod(members: self),
            MemberListMethod(members: self),
            MemberOptInMethod(members: self),
            MemberOptOutMethod(members: self),
            MemberDeleteMethod(members: self),
            MemberEraseMethod(members: self),
            AuditListMethod(members: self),
        ]
    }

    /// Parses a phone number from the client.
    /// - Throws: -32602 naming `field` and saying what is wrong (never echoing the number).
    func phoneNumber(_ text: String, field: String) throws(JSONRPCError) -> PhoneNumber {
        do {
            return try PhoneNumber(parsing: text, defaultRegion: defaultRegion)
        } catch {
            throw .invalidParams(field: field, reason: error.reason.description)
        }
    }

    /// The member with this id, or a `not_found` error.
    func existingMember(_ id: UUID) async throws -> MemberRecord {
        guard let record = try await store.member(id: id) else { throw Self.memberNotFound(id) }
        return record
    }

    static func memberNotFound(_ id: UUID) -> JSONRPCError {
        .notFound("No member has this id", details: ["member_id": .string(id.lowercasedText)])
    }

    static func householdNotFound(_ id: UUID, live: Bool = false) -> JSONRPCError {
        .notFound(
            live ? "No live household has this id" : "No household has this id",
            details: ["household_id": .string(id.lowercasedText)]
        )
    }
}
