import Foundation

/// The provider for a service without an SMS account: every message is marked sent and stays readable in the queue
/// table (`sms.outbox`), so a new installation works end to end without texting anyone.
public struct OutboxProvider: SMSProvider {
    public var name: String { "outbox" }

    public init() {}

    public func send(_ message: OutgoingSMS) async throws(ProviderFailure) -> ProviderReceipt {
        ProviderReceipt(sid: Self.makeSID(), status: "sent")
    }

    /// The outbox keeps nothing outside the queue table, so a message whose fate is unknown was not "sent": sending
    /// it again only writes the row once more.
    public func find(to: String, body: String, since: Date, excluding: Set<String>) async throws(ProviderFailure)
        -> ProviderLookup
    {
        .notFound
    }

    public func shutdown() async {}

    /// `OB` and 32 hex digits: the shape of a Twilio sid, with a prefix of its own.
    static func makeSID() -> String {
        let hex = UUID().lowercasedText.replacingOccurrences(of: "-", with: "")
        return "OB" + hex
    }
}
