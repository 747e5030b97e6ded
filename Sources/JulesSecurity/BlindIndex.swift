/// A keyed, deterministic index of a sensitive value, for equality lookups and uniqueness constraints without
/// storing the value in the clear (for example E.164 phone numbers beside their Fernet-encrypted form).
///
/// The index is HMAC-SHA256 of the value's UTF-8 bytes under a secret key, in lowercase hex. Equal inputs give
/// equal indexes, so callers must normalise values (such as to E.164) before indexing.
public struct BlindIndex: Sendable {
    /// The shortest accepted key, in bytes: the HMAC-SHA256 output size, so the key is not the weak link.
    public static let minimumKeyLength = 32

    /// Private, and hidden from `description` and reflection below, so the key cannot leak into logs.
    private let key: [UInt8]

    /// Creates a blind index from raw key bytes.
    /// - Parameter key: At least 32 secret bytes.
    /// - Throws: ``SecurityError/Code/invalidKey`` if the key is too short.
    public init(key: [UInt8]) throws(SecurityError) {
        guard key.count >= Self.minimumKeyLength else {
            throw SecurityError(
                .invalidKey,
                "a blind index key must be at least \(Self.minimumKeyLength) bytes, got \(key.count)"
            )
        }
        self.key = key
    }

    /// Creates a blind index from a key in padded URL-safe base64, as it would come from configuration.
    /// - Parameter base64URL: The key text; surrounding whitespace is ignored.
    /// - Throws: ``SecurityError/Code/invalidKey`` if the text is not base64url or decodes to fewer than 32 bytes.
    public init(base64URL: String) throws(SecurityError) {
        guard let key = Base64URL.decode(base64URL.trimmingASCIIWhitespace()) else {
            throw SecurityError(.invalidKey, "the blind index key is not valid padded URL-safe base64")
        }
        try self.init(key: key)
    }

    /// A fresh random key of ``minimumKeyLength`` bytes, as padded URL-safe base64 (what ``init(base64URL:)`` reads).
    public static func generateKey() -> String {
        Base64URL.encode(LibCrypto.randomBytes(count: minimumKeyLength))
    }

    /// Whether this index's key is (or begins with) one of `ring`'s Fernet keys. One secret must serve one
    /// purpose: a Fernet key that also keyed the index would make the index's HMAC and the tokens' HMACs share a
    /// key, and leaking one configuration value would give away both.
    public func sharesKey(with ring: FernetKeyRing) -> Bool {
        let head = Array(key.prefix(FernetKey.byteCount))
        return ring.keys.contains { ConstantTime.equals(Array($0.signingKey) + $0.encryptionKey, head) }
    }

    /// The index of `value`: HMAC-SHA256(key, UTF-8 of value) as 64 lowercase hex characters.
    public func index(_ value: String) -> String {
        Hex.encode(LibCrypto.hmacSHA256(key: key, data: Array(value.utf8)))
    }
}

extension BlindIndex: CustomStringConvertible, CustomReflectable {
    public var description: String {
        "BlindIndex(HMAC-SHA256)"
    }

    /// Replaces the default mirror, which would expose the key to `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: [], displayStyle: .struct)
    }
}
