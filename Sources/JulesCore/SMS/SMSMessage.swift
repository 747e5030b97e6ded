import Foundation
import JSONRPC
import Postgres

/// Where a message is in its life.
public enum SMSStatus: String, Codable, Sendable, CaseIterable {
    case queued, sending, sent, delivered, failed, undelivered

    /// No further change is expected from the sender (a delivery report may still move `sent` on).
    var isFinal: Bool { self == .delivered || self == .failed || self == .undelivered }
}

/// Why a message ended `failed` or `undelivered`.
public enum SMSFailureReason: String, Codable, Sendable {
    /// The member opted out before the message went.
    case optedOut = "opted_out"
    /// A bulk message to a member who has not opted in yet.
    case notOptedIn = "not_opted_in"
    /// The member was deleted before the message went.
    case memberDeleted = "member_deleted"
    /// The provider refused it for good (its code says why).
    case providerRejected = "provider_rejected"
    /// Every allowed attempt failed with an error worth retrying.
    case maxAttempts = "max_attempts"
    /// The provider took it but the carrier did not deliver it (a delivery report said so).
    case undelivered
    /// Its send had no answer, and the provider could not be asked whether it took it for
    /// ``SMSSenderConfiguration/unknownOutcomeLimit``: it may or may not have been sent, and is not sent again.
    case unknownOutcome = "unknown_outcome"
    /// The member's number could not be decrypted although the key that made it is configured (the stored token is
    /// damaged): the provider never saw the message. A number made with a key that is not configured does not end
    /// the message: it waits, queued, until the key is configured again.
    case recipientUndecryptable = "recipient_undecryptable"
}

/// A row of `sms_messages` as `sms.status` shows it.
struct SMSMessageRecord: Encodable, Sendable {
    struct Failure: Encodable, Sendable {
        var reason: SMSFailureReason?
        var code: Int?
        var message: String?
    }

    var messageID: String
    var batchID: String?
    var memberID: String
    var householdID: String
    var status: SMSStatus
    var priority: SMSPriority
    var segments: Int
    var encoding: SMSEncoding.Alphabet
    var attempts: Int
    var provider: String?
    var providerSID: String?
    /// The final error, or the latest one while the message waits for a retry.
    var error: Failure?
    var notBefore: String
    var createdAt: String
    var updatedAt: String
    var sentAt: String?
    var deliveredAt: String?
    /// The price as the provider wrote it (a decimal string, negative for a charge), if it said.
    var price: String?
    var priceUnit: String?

    enum CodingKeys: String, CodingKey {
        case status, priority, segments, encoding, attempts, provider, error, price
        case messageID = "message_id"
        case batchID = "batch_id"
        case memberID = "member_id"
        case householdID = "household_id"
        case providerSID = "provider_sid"
        case notBefore = "not_before"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case sentAt = "sent_at"
        case deliveredAt = "delivered_at"
        case priceUnit = "price_unit"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messageID, forKey: .messageID)
        try container.encode(batchID, forKey: .batchID)
        try container.encode(memberID, forKey: .memberID)
        try container.encode(householdID, forKey: .householdID)
        try container.encode(status, forKey: .status)
        try container.encode(priority, forKey: .priority)
        try container.encode(segments, forKey: .segments)
        try container.encode(encoding, forKey: .encoding)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(provider, forKey: .provider)
        try container.encode(providerSID, forKey: .providerSID)
        try container.encode(error, forKey: .error)
        try container.encode(notBefore, forKey: .notBefore)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(sentAt, forKey: .sentAt)
        try container.encode(deliveredAt, forKey: .deliveredAt)
        try container.encode(price, forKey: .price)
        try container.encode(priceUnit, forKey: .priceUnit)
    }

    static let columns = """
        id, batch_id, member_id, household_id, status, priority, segments, encoding, attempts, provider, \
        provider_sid, error_reason, error_code, error_message, price::text AS price, price_unit, \
        jules_rfc3339(not_before) AS not_before, jules_rfc3339(created_at) AS created_at, \
        jules_rfc3339(updated_at) AS updated_at, jules_rfc3339(sent_at) AS sent_at, \
        jules_rfc3339(delivered_at) AS delivered_at
        """

    init(row: PostgresRow) throws(PostgresError) {
        messageID = (try row.decode("id", as: UUID.self)).lowercasedText
        batchID = (try row.decode("batch_id", as: UUID?.self))?.lowercasedText
        memberID = (try row.decode("member_id", as: UUID.self)).lowercasedText
        householdID = (try row.decode("household_id", as: UUID.self)).lowercasedText
        guard let status = SMSStatus(rawValue: try row.decode("status")),
            let priority = SMSPriority(rank: try row.decode("priority")),
            let encoding = SMSEncoding.Alphabet(rawValue: try row.decode("encoding"))
        else {
            throw PostgresError(code: .decodingFailed, message: "an sms_messages row has an unknown status")
        }
        self.status = status
        self.priority = priority
        self.encoding = encoding
        segments = try row.decode("segments")
        attempts = try row.decode("attempts")
        provider = try row.decode("provider")
        providerSID = try row.decode("provider_sid")
        let reason = (try row.decode("error_reason", as: String?.self)).flatMap(SMSFailureReason.init(rawValue:))
        let code: Int? = try row.decode("error_code")
        let message: String? = try row.decode("error_message")
        error =
            reason == nil && code == nil && message == nil ? nil : Failure(reason: reason, code: code, message: message)
        notBefore = try row.decode("not_before")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        sentAt = try row.decode("sent_at")
        deliveredAt = try row.decode("delivered_at")
        price = try row.decode("price")
        priceUnit = try row.decode("price_unit")
    }
}
