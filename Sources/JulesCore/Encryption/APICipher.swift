import JulesSecurity

/// The keys of `encryption.encrypt` and `encryption.decrypt`: one derived from each configured key for this API
/// alone.
///
/// Stored names and numbers are sealed with the configured keys themselves (``PIICipher``), the API's tokens with
/// keys derived from them for ``purpose`` (see `FernetKey.derived(forPurpose:)`). So a caller of
/// `encryption.decrypt` cannot read a stored name or number by passing its token, and a token the API made does not
/// open as stored member data. Stored data needs no migration, and both rotate with `JULES_ENCRYPTION_KEYS`. The
/// tokens stay standard Fernet: another implementation opens them with the derived key.
struct APICipher: Sendable {
    /// The purpose the API's keys are derived for.
    static let purpose = "encryption.api"

    /// The derived keys, in the order of the configured ones.
    let keyRing: FernetKeyRing
    /// The fingerprints of the configured keys the derived ones come from, in the same order: the ids the API
    /// reports, as `encryption.status` and the logs name keys.
    let keyIDs: [String]

    init(configured: FernetKeyRing) {
        keyRing = configured.derived(forPurpose: Self.purpose)
        keyIDs = configured.fingerprints
    }
}
