import COpenSSL

/// The libcrypto primitives JulesSecurity needs, with Swift types at the boundary so no C type escapes this file.
enum LibCrypto {
    /// Length in bytes of a SHA-256 digest and of an HMAC-SHA256 tag.
    static let sha256Length = 32

    /// Fills a new array with `count` bytes from OpenSSL's CSPRNG.
    ///
    /// A failing CSPRNG leaves no safe way to continue (keys and IVs would be predictable), so this traps rather
    /// than returning weak bytes.
    static func randomBytes(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { buffer in
            RAND_bytes(buffer.baseAddress, Int32(buffer.count))
        }
        precondition(status == 1, "RAND_bytes failed; refusing to continue without a working CSPRNG")
        return bytes
    }

    /// SHA-256 of `data`.
    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: sha256Length)
        var length: UInt32 = 0
        let status = data.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // Only allocation failure can make a digest of in-memory bytes fail.
        precondition(status == 1 && length == UInt32(sha256Length), "EVP_Digest(SHA-256) failed")
        return digest
    }

    /// HMAC-SHA256 of `data` under `key`.
    static func hmacSHA256(key: some Collection<UInt8>, data: some Collection<UInt8>) -> [UInt8] {
        let key = Array(key)
        let data = Array(data)
        var tag = [UInt8](repeating: 0, count: sha256Length)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            data.withUnsafeBufferPointer { input in
                tag.withUnsafeMutableBufferPointer { output in
                    // An empty array may have no base address; HMAC wants a valid pointer even for zero bytes.
                    withUnsafePointer(to: 0 as UInt8) { empty in
                        HMAC(
                            EVP_sha256(),
                            keyBytes.baseAddress ?? UnsafeRawPointer(empty),
                            Int32(keyBytes.count),
                            input.baseAddress ?? empty,
                            input.count,
                            output.baseAddress,
                            &length
                        )
                    }
                }
            }
        }
        precondition(result != nil && length == UInt32(sha256Length), "HMAC-SHA256 failed")
        return tag
    }

    /// Clears libcrypto's thread-local error queue after a failure we have already turned into a Swift error, so
    /// stale entries do not confuse later, unrelated callers on this thread.
    static func clearErrors() {
        ERR_clear_error()
    }
}
