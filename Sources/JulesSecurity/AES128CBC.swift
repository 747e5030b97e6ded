import COpenSSL

/// AES-128-CBC with PKCS#7 padding through libcrypto's EVP interface.
enum AES128CBC {
    static let keyLength = 16
    static let blockLength = 16

    /// Why a decryption failed; mapped to `SecurityError` by the caller, which knows the context.
    enum DecryptionFailure: Error {
        case badPadding
        case library
    }

    /// Encrypts `plaintext`, padding it to a whole number of blocks.
    ///
    /// Encryption with a valid key and IV can only fail if libcrypto cannot allocate, so failures trap.
    static func encrypt(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8] {
        precondition(key.count == keyLength && iv.count == blockLength, "AES-128-CBC needs a 16-byte key and IV")
        let result = run(plaintext, key: key, iv: iv, encrypting: true)
        guard case .success(let ciphertext) = result else {
            preconditionFailure("AES-128-CBC encryption failed inside libcrypto")
        }
        return ciphertext
    }

    /// Decrypts `ciphertext` (a whole number of blocks) and removes the PKCS#7 padding.
    static func decrypt(
        _ ciphertext: [UInt8],
        key: [UInt8],
        iv: [UInt8]
    ) -> Result<[UInt8], DecryptionFailure> {
        precondition(key.count == keyLength && iv.count == blockLength, "AES-128-CBC needs a 16-byte key and IV")
        return run(ciphertext, key: key, iv: iv, encrypting: false)
    }

    private static func run(
        _ input: [UInt8],
        key: [UInt8],
        iv: [UInt8],
        encrypting: Bool
    ) -> Result<[UInt8], DecryptionFailure> {
        // EVP lengths are C ints; callers enforce far smaller limits, this only keeps the conversion honest.
        guard input.count <= Int(Int32.max) - blockLength, let context = EVP_CIPHER_CTX_new() else {
            return .failure(.library)
        }
        defer { EVP_CIPHER_CTX_free(context) }
        let mode: Int32 = encrypting ? 1 : 0
        guard EVP_CipherInit_ex(context, EVP_aes_128_cbc(), nil, key, iv, mode) == 1 else {
            LibCrypto.clearErrors()
            return .failure(.library)
        }
        var output = [UInt8](repeating: 0, count: input.count + blockLength)
        var written: Int32 = 0
        var finalWritten: Int32 = 0
        let status = output.withUnsafeMutableBufferPointer { buffer -> Result<Void, DecryptionFailure> in
            guard let base = buffer.baseAddress else {
                return .failure(.library)
            }
            if !input.isEmpty {
                let updated = input.withUnsafeBufferPointer { source in
                    EVP_CipherUpdate(context, base, &written, source.baseAddress, Int32(source.count))
                }
                guard updated == 1 else {
                    return .failure(.library)
                }
            }
            // With padding enabled, a failing final step on decryption means the padding bytes were invalid.
            guard EVP_CipherFinal_ex(context, base + Int(written), &finalWritten) == 1 else {
                return .failure(encrypting ? .library : .badPadding)
            }
            return .success(())
        }
        if case .failure(let failure) = status {
            LibCrypto.clearErrors()
            return .failure(failure)
        }
        output.removeLast(output.count - Int(written) - Int(finalWritten))
        return .success(output)
    }
}
