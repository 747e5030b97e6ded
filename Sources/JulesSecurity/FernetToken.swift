/// A decoded Fernet token split into its fields, before any key is involved.
///
/// Parsing once lets ``FernetKeyRing`` try several keys without decoding the token again.
struct FernetToken {
    static let version: UInt8 = 0x80
    static let headerLength = 1 + 8 + AES128CBC.blockLength
    static let tagLength = LibCrypto.sha256Length
    /// Header, at least one ciphertext block (PKCS#7 always adds one), and the tag.
    static let minimumLength = headerLength + AES128CBC.blockLength + tagLength

    /// Version ‖ timestamp ‖ IV ‖ ciphertext: the bytes the HMAC covers.
    let signedBytes: ArraySlice<UInt8>
    let tag: [UInt8]
    let timestamp: Int64

    var iv: [UInt8] { Array(signedBytes[(signedBytes.startIndex + 9)..<(signedBytes.startIndex + Self.headerLength)]) }
    var ciphertext: [UInt8] { Array(signedBytes[(signedBytes.startIndex + Self.headerLength)...]) }

    /// Decodes and splits a token, checking only what needs no key.
    /// - Throws: ``SecurityError/Code/tooLarge`` or ``SecurityError/Code/invalidToken``.
    init(parsing token: String, maximumLength: Int) throws(SecurityError) {
        guard token.utf8.count <= maximumLength else {
            throw SecurityError(
                .tooLarge,
                "the Fernet token is \(token.utf8.count) characters, more than the limit of \(maximumLength)"
            )
        }
        guard let bytes = Base64URL.decode(token) else {
            throw SecurityError(.invalidToken, "the Fernet token is not valid padded URL-safe base64")
        }
        guard bytes.count >= Self.minimumLength else {
            throw SecurityError(
                .invalidToken,
                "the Fernet token is too short: \(bytes.count) bytes, at least \(Self.minimumLength) needed"
            )
        }
        guard bytes[0] == Self.version else {
            throw SecurityError(.invalidToken, "unsupported Fernet version byte \(bytes[0]), expected 128 (0x80)")
        }
        signedBytes = bytes[..<(bytes.count - Self.tagLength)]
        tag = Array(bytes[(bytes.count - Self.tagLength)...])
        // The timestamp is unsigned on the wire; reading it as Int64 makes values past 2^63 negative, which the
        // expiry check then rejects rather than overflowing.
        timestamp = Int64(bitPattern: bytes[1..<9].reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// Assembles a token from its parts and signs it.
    static func seal(key: FernetKey, timestamp: Int64, iv: [UInt8], ciphertext: [UInt8]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerLength + ciphertext.count + tagLength)
        bytes.append(version)
        let wireTime = UInt64(bitPattern: timestamp)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: wireTime >> UInt64(shift)))
        }
        bytes.append(contentsOf: iv)
        bytes.append(contentsOf: ciphertext)
        bytes.append(contentsOf: LibCrypto.hmacSHA256(key: key.signingKey, data: bytes))
        return Base64URL.encode(bytes)
    }

    /// Whether the tag is the HMAC of the signed bytes under `key`, compared in constant time.
    func isSigned(by key: FernetKey) -> Bool {
        ConstantTime.equals(LibCrypto.hmacSHA256(key: key.signingKey, data: signedBytes), tag)
    }
}
