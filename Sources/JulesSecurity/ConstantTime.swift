import COpenSSL

/// Comparisons whose running time does not depend on where two byte strings differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, compared with libcrypto's `CRYPTO_memcmp`.
    ///
    /// Arrays of different lengths are unequal. Lengths are not secret (they are visible on the wire), so that case
    /// only avoids comparing content: it still does a full-length comparison of `a` with itself, so the time taken
    /// depends on lengths alone, never on the bytes.
    /// - Parameters:
    ///   - a: The first byte string, typically the computed value.
    ///   - b: The second byte string, typically the received value.
    /// - Returns: `true` if both have the same length and content.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else {
            _ = compare(a, a)
            return false
        }
        return compare(a, b)
    }

    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        if a.isEmpty {
            return true
        }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
            }
        }
    }
}
