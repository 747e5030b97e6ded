/// Whether a member agreed to receive messages.
public enum OptInState: String, Codable, Sendable, CaseIterable {
    /// Added, not yet asked or not yet answered: no bulk messages.
    case pending
    /// Agreed (START, or consent recorded by the caller).
    case optedIn = "opted_in"
    /// Refused (STOP, or the carrier reported the number unsubscribed): never texted.
    case optedOut = "opted_out"
}

/// What caused an opt-in change, as the audit log records it.
public enum OptInSource: String, Codable, Sendable, CaseIterable {
    /// A JSON-RPC call (`member.optIn`, `member.optOut`, `member.add`).
    case api
    /// The member texted a keyword such as STOP or START.
    case smsKeyword = "sms_keyword"
    /// The carrier reported the number unsubscribed (Twilio error 21610).
    case carrier
    /// A change made directly in SQL, outside the service; the service never sends this one.
    case `operator`
}
