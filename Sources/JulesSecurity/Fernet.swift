/// Fernet symmetric authenticated encryption, exactly as specified at https://github.com/fernet/spec.
///
/// A token is `0x80 ‖ timestamp (64-bit big-endian Unix seconds) ‖ IV (16) ‖ AES-128-CBC ciphertext ‖
/// HMAC-SHA256 (32)`, encoded as padded URL-safe base64. Tokens interoperate with Python's `cryptography` and
/// other Fernet libraries.
public struct Fernet: Sendable {
    /// The default upper bound on a token's length in characters, checked before any decoding work.
    public static let defaultMaximumTokenLength = 64 * 1024

    /// The key tokens are made and opened with.
    public let key: FernetKey
    /// Tokens longer than this many characters are rejected with ``SecurityError/Code/tooLarge``.
    public let maximumTokenLength: Int

    /// Creates a Fernet instance.
    /// - Parameters:
    ///   - key: The key to encrypt and decrypt with.
    ///   - maximumTokenLength: The longest token ``decrypt(_:ttl:now:maximumClockSkew:)`` accepts, in characters.
    ///     Encryption is not limited, so raise this on the reading side if you encrypt large payloads.
    public init(key: FernetKey, maximumTokenLength: Int = Fernet.defaultMaximumTokenLength) {
        self.key = key
        self.maximumTokenLength = maximumTokenLength
    }

    /// Encrypts and signs `plaintext`.
    /// - Parameters:
    ///   - plaintext: The bytes to protect; any length.
    ///   - now: The token's timestamp in Unix seconds; defaults to the current time.
    ///   - iv: The 16-byte IV. Leave `nil` (the default) for a fresh random IV; a fixed IV exists only to
    ///     reproduce test vectors and must never be used in production.
    /// - Returns: The token, as padded URL-safe base64.
    public func encrypt(_ plaintext: [UInt8], now: Int64 = UnixTime.now(), iv: [UInt8]? = nil) -> String {
        let iv = iv ?? LibCrypto.randomBytes(count: AES128CBC.blockLength)
        precondition(iv.count == AES128CBC.blockLength, "a Fernet IV must be 16 bytes")
        let ciphertext = AES128CBC.encrypt(plaintext, key: key.encryptionKey, iv: iv)
        return FernetToken.seal(key: key, timestamp: now, iv: iv, ciphertext: ciphertext)
    }

    /// Verifies and decrypts a token.
    ///
    /// Checks run in this order, so the first failure is the one reported: size limit, base64, length, version,
    /// HMAC (constant time), ciphertext block alignment, padding, then, only when `ttl` is given (as in the other
    /// implementations), expiry and a timestamp too far in the future. Nothing about the plaintext is examined
    /// before the HMAC verifies.
    /// - Parameters:
    ///   - token: A token from ``encrypt(_:now:iv:)`` or any Fernet implementation.
    ///   - ttl: If given, tokens whose timestamp is more than `ttl` seconds before `now` are rejected.
    ///   - now: The current time in Unix seconds; defaults to the wall clock.
    ///   - maximumClockSkew: With a `ttl`, how far in the future a timestamp may be, to tolerate clocks that
    ///     disagree.
    /// - Returns: The plaintext.
    /// - Throws: ``SecurityError`` with code `tooLarge`, `invalidToken`, `invalidSignature`, `invalidPadding`,
    ///   `expired`, `futureTimestamp` or `cryptoFailure`.
    public func decrypt(
        _ token: String,
        ttl: Int64? = nil,
        now: Int64 = UnixTime.now(),
        maximumClockSkew: Int64 = 60
    ) throws(SecurityError) -> [UInt8] {
        let parsed = try FernetToken(parsing: token, maximumLength: maximumTokenLength)
        guard parsed.isSigned(by: key) else {
            throw Self.signatureMismatch
        }
        return try Self.open(parsed, with: key, ttl: ttl, now: now, maximumClockSkew: maximumClockSkew)
    }

    static let signatureMismatch = SecurityError(
        .invalidSignature,
        "the Fernet token's HMAC does not match: it was altered or made with a different key"
    )

    /// Decrypts a token whose HMAC has already been verified with `key`, then applies the time rules.
    static func open(
        _ token: FernetToken,
        with key: FernetKey,
        ttl: Int64?,
        now: Int64,
        maximumClockSkew: Int64
    ) throws(SecurityError) -> [UInt8] {
        let ciphertext = token.ciphertext
        guard ciphertext.count % AES128CBC.blockLength == 0 else {
            throw SecurityError(
                .invalidToken,
                "the Fernet ciphertext is \(ciphertext.count) bytes, not a multiple of the 16-byte block size"
            )
        }
        let plaintext: [UInt8]
        switch AES128CBC.decrypt(ciphertext, key: key.encryptionKey, iv: token.iv) {
        case .success(let bytes):
            plaintext = bytes
        case .failure(.badPadding):
            throw SecurityError(.invalidPadding, "the Fernet token decrypted to invalid PKCS#7 padding")
        case .failure(.library):
            throw SecurityError(.cryptoFailure, "libcrypto failed to decrypt the Fernet token")
        }
        // Time matters only to a token with a time-to-live (as in the other implementations): data stored without
        // one, such as a member's name written on a host whose clock ran ahead, stays readable.
        guard let ttl else { return plaintext }
        // Overflow means the timestamp is absurdly far in the past, which is as expired as it gets.
        let (age, pastOverflow) = now.subtractingReportingOverflow(token.timestamp)
        if pastOverflow || age > ttl {
            throw SecurityError(.expired, "the Fernet token is older than its time-to-live of \(ttl) seconds")
        }
        // Overflow means the latest acceptable time is beyond Int64, so no timestamp can exceed it.
        let (latest, overflow) = now.addingReportingOverflow(maximumClockSkew)
        if !overflow && token.timestamp > latest {
            throw SecurityError(
                .futureTimestamp,
                "the Fernet token's timestamp is more than \(maximumClockSkew) seconds in the future"
            )
        }
        return plaintext
    }
}
