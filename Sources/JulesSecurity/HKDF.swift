/// HKDF with HMAC-SHA256 (RFC 5869): independent keys for separate purposes from one secret.
///
/// Keys derived with different `info` are unrelated to each other and to the input key, so a secret configured once
/// can serve several purposes without a token of one being accepted for another.
public enum HKDF {
    /// The most bytes one derivation can give: 255 blocks of HMAC-SHA256 output.
    public static let maximumOutputLength = 255 * LibCrypto.sha256Length

    /// Extracts a pseudorandom key from `inputKey` and expands it to `outputLength` bytes bound to `info`.
    /// - Parameters:
    ///   - inputKey: The secret to derive from.
    ///   - salt: Optional non-secret randomness; empty means HashLen zero bytes, as RFC 5869 says.
    ///   - info: What the derived key is for; different `info` gives unrelated keys.
    ///   - outputLength: 1 to ``maximumOutputLength`` bytes.
    public static func sha256(
        inputKey: some Collection<UInt8>,
        salt: [UInt8] = [],
        info: [UInt8],
        outputLength: Int
    ) -> [UInt8] {
        precondition((1...maximumOutputLength).contains(outputLength), "HKDF-SHA256 gives 1 to 8160 bytes")
        let pseudorandomKey = LibCrypto.hmacSHA256(
            key: salt.isEmpty ? [UInt8](repeating: 0, count: LibCrypto.sha256Length) : salt, data: inputKey)
        var output: [UInt8] = []
        output.reserveCapacity(outputLength)
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < outputLength {
            block = LibCrypto.hmacSHA256(key: pseudorandomKey, data: block + info + [counter])
            output += block
            counter &+= 1
        }
        return Array(output.prefix(outputLength))
    }
}
