/// Several Fernet keys for rotation: the first encrypts, all of them decrypt.
///
/// To rotate, put a new key first and keep the old ones until every token they made has expired or been
/// re-encrypted, then drop them.
public struct FernetKeyRing: Sendable {
    /// The keys, newest (the one that encrypts) first.
    public let keys: [FernetKey]
    /// Tokens longer than this many characters are rejected with ``SecurityError/Code/tooLarge``.
    public let maximumTokenLength: Int

    /// Creates a key ring.
    /// - Parameters:
    ///   - keys: At least one key, newest first.
    ///   - maximumTokenLength: The longest token accepted by the decrypt methods, in characters.
    /// - Throws: ``SecurityError/Code/invalidKey`` if `keys` is empty.
    public init(
        keys: [FernetKey],
        maximumTokenLength: Int = Fernet.defaultMaximumTokenLength
    ) throws(SecurityError) {
        guard !keys.isEmpty else {
            throw SecurityError(.invalidKey, "a Fernet key ring needs at least one key")
        }
        self.init(nonEmpty: keys, maximumTokenLength: maximumTokenLength)
    }

    /// Parses keys from configuration text such as an environment variable: base64url keys separated by commas,
    /// spaces, tabs or newlines, newest first. Empty entries (for example a trailing comma) are ignored.
    /// - Parameters:
    ///   - environmentValue: The configuration text.
    ///   - maximumTokenLength: The longest token accepted by the decrypt methods, in characters.
    /// - Throws: ``SecurityError/Code/invalidKey`` saying which position (counting from 0) is bad and why, without
    ///   the key text; or if there are no keys at all.
    public init(
        environmentValue: String,
        maximumTokenLength: Int = Fernet.defaultMaximumTokenLength
    ) throws(SecurityError) {
        let entries = environmentValue.split { $0 == "," || $0.isASCIIWhitespace }
        var keys: [FernetKey] = []
        for (position, entry) in entries.enumerated() {
            do {
                keys.append(try FernetKey(base64URL: String(entry)))
            } catch {
                throw SecurityError(.invalidKey, "Fernet key at position \(position): \(error.message)")
            }
        }
        try self.init(keys: keys, maximumTokenLength: maximumTokenLength)
    }

    /// The fingerprint of each key, in ring order; safe to log to confirm which keys are deployed.
    public var fingerprints: [String] {
        keys.map(\.fingerprint)
    }

    /// The ring of keys derived from these for `purpose` (see ``FernetKey/derived(forPurpose:)``), in the same
    /// order, so it rotates with this one.
    public func derived(forPurpose purpose: String) -> FernetKeyRing {
        FernetKeyRing(nonEmpty: keys.map { $0.derived(forPurpose: purpose) }, maximumTokenLength: maximumTokenLength)
    }

    private init(nonEmpty keys: [FernetKey], maximumTokenLength: Int) {
        self.keys = keys
        self.maximumTokenLength = maximumTokenLength
    }

    /// Encrypts with the first (newest) key. See ``Fernet/encrypt(_:now:iv:)``.
    public func encrypt(_ plaintext: [UInt8], now: Int64 = UnixTime.now(), iv: [UInt8]? = nil) -> String {
        Fernet(key: keys[0], maximumTokenLength: maximumTokenLength).encrypt(plaintext, now: now, iv: iv)
    }

    /// Decrypts with whichever key signed the token. See ``Fernet/decrypt(_:ttl:now:maximumClockSkew:)``.
    public func decrypt(
        _ token: String,
        ttl: Int64? = nil,
        now: Int64 = UnixTime.now(),
        maximumClockSkew: Int64 = 60
    ) throws(SecurityError) -> [UInt8] {
        try decryptWithKeyIndex(token, ttl: ttl, now: now, maximumClockSkew: maximumClockSkew).plaintext
    }

    /// Decrypts with whichever key signed the token and says which one it was, so callers can re-encrypt tokens
    /// still made with an old key (index > 0).
    ///
    /// The token is decoded once; each key's HMAC is checked in turn and the first match decrypts. Errors after a
    /// match (padding, expiry, future timestamp) are final: another key cannot make them go away.
    /// - Returns: The plaintext and the index in ``keys`` of the key that verified the token.
    /// - Throws: As ``Fernet/decrypt(_:ttl:now:maximumClockSkew:)``; `invalidSignature` if no key verifies it.
    public func decryptWithKeyIndex(
        _ token: String,
        ttl: Int64? = nil,
        now: Int64 = UnixTime.now(),
        maximumClockSkew: Int64 = 60
    ) throws(SecurityError) -> (plaintext: [UInt8], keyIndex: Int) {
        let parsed = try FernetToken(parsing: token, maximumLength: maximumTokenLength)
        guard let keyIndex = keys.firstIndex(where: { parsed.isSigned(by: $0) }) else {
            throw Fernet.signatureMismatch
        }
        let plaintext = try Fernet.open(
            parsed,
            with: keys[keyIndex],
            ttl: ttl,
            now: now,
            maximumClockSkew: maximumClockSkew
        )
        return (plaintext, keyIndex)
    }
}
