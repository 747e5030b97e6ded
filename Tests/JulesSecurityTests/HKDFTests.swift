import JulesSecurity
import Testing

@Suite("HKDF and keys derived per purpose")
struct HKDFTests {
    static func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// RFC 5869, appendix A, test cases 1, 2 and 3 (SHA-256).
    @Test(
        "RFC 5869 test vectors",
        arguments: [
            (
                [UInt8](repeating: 0x0b, count: 22), [UInt8](0x00...0x0c), [UInt8](0xf0...0xf9), 42,
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            ),
            (
                [UInt8](0x00...0x4f), [UInt8](0x60...0xaf), [UInt8](0xb0...0xff), 82,
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"
            ),
            (
                [UInt8](repeating: 0x0b, count: 22), [], [], 42,
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
            ),
        ]
    )
    func rfc5869(inputKey: [UInt8], salt: [UInt8], info: [UInt8], length: Int, expected: String) {
        #expect(
            HKDF.sha256(inputKey: inputKey, salt: salt, info: info, outputLength: length) == Self.bytes(hex: expected))
    }

    /// Expected keys from Python's `cryptography`: `HKDF(SHA256(), 32, salt=None,
    /// info=b"jules-core fernet key for " + purpose).derive(bytes(range(32)))`, base64url.
    @Test("a derived key is HKDF-SHA256 of the key, bound to its purpose")
    func derivedKnownAnswer() throws {
        let key = try FernetKey(bytes: Array(0..<32))
        #expect(key.derived(forPurpose: "encryption.api").base64URL == "Yfz_mBcr-XH0ul45VicrzQGH1l4Krn46hxoB9DLbCPY=")
        #expect(key.derived(forPurpose: "other").base64URL == "tiLZodmar-NFA7xviPGTS0Mj5s9I9Pa1AeflCJt3HWA=")
    }

    @Test("tokens of one purpose do not open with another's keys")
    func purposesAreSeparate() throws {
        let ring = try FernetKeyRing(keys: [FernetKey.generate(), FernetKey.generate()])
        let api = ring.derived(forPurpose: "encryption.api")
        #expect(api.keys.count == 2)
        #expect(Set(api.fingerprints).isDisjoint(with: ring.fingerprints))
        let apiToken = api.encrypt(Array("hello".utf8))
        #expect(try api.decrypt(apiToken) == Array("hello".utf8))
        #expect(throws: SecurityError.self) { try ring.decrypt(apiToken) }
        #expect(throws: SecurityError.self) { try api.decrypt(ring.encrypt(Array("stored".utf8))) }
        #expect(throws: SecurityError.self) {
            try ring.derived(forPurpose: "other").decrypt(apiToken)
        }
        // The same order as the ring, so a token of the older key opens with the older derived key.
        let older = try FernetKeyRing(keys: [ring.keys[1]]).derived(forPurpose: "encryption.api")
        #expect(try api.decryptWithKeyIndex(older.encrypt([1, 2, 3])).keyIndex == 1)
    }
}
