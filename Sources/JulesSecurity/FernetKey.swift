/// A Fernet key: 16 bytes of HMAC-SHA256 signing key followed by 16 bytes of AES-128 encryption key.
///
/// The key bytes never appear in `description`, `debugDescription` or reflection (`dump`); those show the
/// ``fingerprint``, which is safe to log. Equality is checked in constant time.
public struct FernetKey: Sendable, Hashable {
    /// Length of a decoded key in bytes.
    public static let byteCount = 32

    /// The 32 key bytes; private so the only ways out are ``base64URL`` and the Fernet operations.
    private let bytes: [UInt8]

    var signingKey: ArraySlice<UInt8> { bytes[0..<16] }
    var encryptionKey: [UInt8] { Array(bytes[16..<32]) }

    private init(validated bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Creates a key from its 32 raw bytes.
    /// - Parameter bytes: Signing key ‖ encryption key.
    /// - Throws: ``SecurityError/Code/invalidKey`` if there are not exactly 32 bytes.
    public init(bytes: [UInt8]) throws(SecurityError) {
        guard bytes.count == Self.byteCount else {
            throw SecurityError(.invalidKey, "a Fernet key must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.init(validated: bytes)
    }

    /// Parses a key from padded URL-safe base64, the format Fernet libraries exchange keys in.
    ///
    /// Surrounding whitespace is ignored because keys usually come from environment variables and files.
    /// - Parameter base64URL: 44 characters of URL-safe base64 ending in `=`.
    /// - Throws: ``SecurityError/Code/invalidKey`` naming the problem; the error never contains the text.
    public init(base64URL: String) throws(SecurityError) {
        let text = base64URL.trimmingASCIIWhitespace()
        guard !text.isEmpty else {
            throw SecurityError(.invalidKey, "the Fernet key is empty")
        }
        guard let decoded = Base64URL.decode(text) else {
            throw SecurityError(
                .invalidKey,
                "the Fernet key is not valid padded URL-safe base64 (\(text.utf8.count) characters)"
            )
        }
        guard decoded.count == Self.byteCount else {
            throw SecurityError(
                .invalidKey,
                "a Fernet key must decode to \(Self.byteCount) bytes, this one decodes to \(decoded.count)"
            )
        }
        self.init(validated: decoded)
    }

    /// A new key from OpenSSL's CSPRNG.
    public static func generate() -> FernetKey {
        FernetKey(validated: LibCrypto.randomBytes(count: byteCount))
    }

    /// A key for one purpose, derived from this one: HKDF-SHA256 of the 32 key bytes, with no salt and the info
    /// `jules-core fernet key for <purpose>` (UTF-8), 32 bytes long.
    ///
    /// Tokens made with keys derived for different purposes (or with this key itself) do not open with each
    /// other's keys, so one configured secret can serve several purposes without one purpose's tokens being
    /// accepted by another. Another Fernet implementation can derive the same key with any HKDF.
    /// - Parameter purpose: What the derived key is for; fixed by the code, never input.
    public func derived(forPurpose purpose: String) -> FernetKey {
        FernetKey(
            validated: HKDF.sha256(
                inputKey: bytes, info: Array("jules-core fernet key for \(purpose)".utf8), outputLength: Self.byteCount)
        )
    }

    /// The key as padded URL-safe base64, interoperable with other Fernet implementations. This is the secret.
    public var base64URL: String {
        Base64URL.encode(bytes)
    }

    /// The first 8 bytes of SHA-256 of the key, in lowercase hex: identifies a key in logs and configuration
    /// checks without revealing it.
    public var fingerprint: String {
        Hex.encode(LibCrypto.sha256(bytes).prefix(8))
    }

    public static func == (lhs: FernetKey, rhs: FernetKey) -> Bool {
        ConstantTime.equals(lhs.bytes, rhs.bytes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes)
    }
}

extension FernetKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "FernetKey(fingerprint: \(fingerprint))"
    }

    public var debugDescription: String {
        description
    }

    /// Replaces the default mirror, which would expose the stored bytes to `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: ["fingerprint": fingerprint], displayStyle: .struct)
    }
}
