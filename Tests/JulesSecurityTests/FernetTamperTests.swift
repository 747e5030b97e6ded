import JulesSecurity
import Testing

@Suite("Fernet tamper resistance")
struct FernetTamperTests {
    static let key = FernetKey.generate()
    static let token = Fernet(key: key).encrypt(Array("attack at dawn, bring snacks".utf8), now: 1_700_000_000)

    @Test("flipping any bit in any decoded byte is rejected", arguments: [0x01, 0x80] as [UInt8])
    func tamperBytes(mask: UInt8) throws {
        let fernet = Fernet(key: Self.key)
        let bytes = try #require(TestBase64URL.decode(Self.token))
        for position in bytes.indices {
            var tampered = bytes
            tampered[position] ^= mask
            let error = #expect(throws: SecurityError.self, "byte \(position)") {
                try fernet.decrypt(TestBase64URL.encode(tampered), now: 1_700_000_000)
            }
            // The version byte is checked before the HMAC; every other byte is covered by it.
            #expect(error?.code == (position == 0 ? .invalidToken : .invalidSignature), "byte \(position)")
        }
    }

    @Test("replacing any character of the token text is rejected")
    func tamperCharacters() {
        let fernet = Fernet(key: Self.key)
        let characters = Array(Self.token)
        for position in characters.indices {
            // Two replacements per position: one that differs only in low bits and one far away in the alphabet.
            for replacement in [characters[position] == "A" ? "B" : "A", characters[position] == "_" ? "=" : "_"] {
                var tampered = characters
                tampered[position] = Character(replacement)
                #expect(throws: SecurityError.self, "position \(position) → \(replacement)") {
                    try fernet.decrypt(String(tampered), now: 1_700_000_000)
                }
            }
        }
        #expect(throws: Never.self) { try fernet.decrypt(Self.token, now: 1_700_000_000) }
    }

    @Test("truncated and extended tokens are rejected")
    func truncation() throws {
        let fernet = Fernet(key: Self.key)
        let bytes = try #require(TestBase64URL.decode(Self.token))
        for length in [0, 1, 9, 25, 56, 57, 72, bytes.count - 1] {
            #expect(throws: SecurityError.self, "length \(length)") {
                try fernet.decrypt(TestBase64URL.encode(Array(bytes.prefix(length))), now: 1_700_000_000)
            }
        }
        #expect(throws: SecurityError.self) {
            try fernet.decrypt(TestBase64URL.encode(bytes + [0]), now: 1_700_000_000)
        }
    }
}
