import Foundation

/// A message as the provider receives it: the number is decrypted only for this hand-over.
public struct OutgoingSMS: Sendable {
    /// The queue row's id, for logs (the provider never sees it).
    public var messageID: UUID
    /// The destination in E.164 form.
    public var to: String
    public var body: String
}

/// What a provider said about a message it accepted.
public struct ProviderReceipt: Sendable, Equatable {
    /// The provider's id of the message (`SM…` at Twilio).
    public var sid: String
    /// The provider's status word (`queued`, `accepted`, `sent`, …), if it gave one.
    public var status: String?
    /// What the message cost, when the provider says (Twilio gives a negative decimal string, often later).
    public var price: Decimal?
    public var priceUnit: String?

    public init(sid: String, status: String? = nil, price: Decimal? = nil, priceUnit: String? = nil) {
        self.sid = sid
        self.status = status
        self.price = price
        self.priceUnit = priceUnit
    }
}

/// Why a provider did not take a message, sorted by what the sender does next.
public struct ProviderFailure: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The provider refused it for good (an invalid or unsubscribed number, a bad request): never retried.
        case permanent
        /// Too many requests, or the provider is having trouble: retried later, not before `retryAfter`.
        case retryable(retryAfter: Duration?)
        /// The request may or may not have reached the provider (a timeout, a connection lost mid-request): the
        /// provider is asked whether the message exists before it is sent again.
        case unknownFate
        /// The provider refused the account, not the message (wrong or rotated credentials, a suspended account):
        /// every message would be refused alike, so the message waits without using up an attempt, and sending
        /// pauses, until the account works again.
        case accountRefused
    }

    public var kind: Kind
    /// The provider's error code (Twilio's `code`), if any.
    public var code: Int?
    /// The HTTP status, if a response came back.
    public var httpStatus: Int?
    /// The provider's explanation, for the row and the logs (never the number or the body).
    public var message: String

    /// `message` is kept with phone-number-like text masked (Twilio's messages quote the number) and at most 512
    /// characters long: it is stored with the message and logged.
    public init(kind: Kind, code: Int? = nil, httpStatus: Int? = nil, message: String) {
        self.kind = kind
        self.code = code
        self.httpStatus = httpStatus
        self.message = PhoneNumberRedaction.redact(String(message.prefix(512)))
    }

    /// Twilio's code for a recipient who replied STOP: the member is marked opted out.
    public static let unsubscribedCode = 21610

    public var isUnsubscribed: Bool { code == Self.unsubscribedCode }
}

/// The answer to "did this message reach you?", asked after a crash or a timeout.
public enum ProviderLookup: Sendable, Equatable {
    case found(ProviderReceipt)
    case notFound
}

/// Something that sends text messages: Twilio, or the outbox that keeps them.
public protocol SMSProvider: Sendable {
    /// The name stored with each message and shown by `sms.stats` (`twilio`, `outbox`).
    var name: String { get }

    /// Hands one message over. Returns the provider's receipt, or throws a ``ProviderFailure``.
    func send(_ message: OutgoingSMS) async throws(ProviderFailure) -> ProviderReceipt

    /// Looks for a message to `to` with `body` (or the form the provider may have turned it into before sending it,
    /// such as Twilio's Smart Encoding) that the provider created at or after `since`, whose sid is not in
    /// `excluding` (sids already matched to other rows).
    func find(to: String, body: String, since: Date, excluding: Set<String>) async throws(ProviderFailure)
        -> ProviderLookup

    /// Releases connections; called once at shutdown.
    func shutdown() async
}
