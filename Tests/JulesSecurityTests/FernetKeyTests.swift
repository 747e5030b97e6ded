import JulesSecurity
import Testing

@Suite("FernetKey")
struct FernetKeyTests {
    static let specKeyText = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

    @Test("base64url round trip and generation")
    func roundTrip() throws {
        let key = try FernetKey(base64URL: Self.specKeyText)
        #expect(key.base64URL == Self.specKeyText)
        let generated = FernetKey.generate()
        #expect(try FernetKey(base64URL: generated.base64URL) == generated)
        #expect(generated != FernetKey.generate())
        #expect(Set([key, key, generated]).count == 2)
    }

    /// Computed independently with Python:
    /// `hashlib.sha256(base64.urlsafe_b64decode(specKeyText)).hexdigest()[:16]`.
    @Test("fingerprint is the first 8 bytes of SHA-256, stable and free of key text")
    func fingerprint() throws {
        let key = try FernetKey(base64URL: Self.specKeyText)
        #expect(key.fingerprint == "cbeb362f1fa69a66")
        #expect(try FernetKey(base64URL: Self.specKeyText).fingerprint == key.fingerprint)
        #expect(!Self.specKeyText.contains(key.fingerprint))
    }

    @Test("description, debugDescription and dump show the fingerprint, not the key")
    func noLeakInDescriptions() throws {
        let key = try FernetKey(base64URL: Self.specKeyText)
        var dumped = ""
        dump(key, to: &dumped)
        for text in [key.description, key.debugDescription, String(describing: key), String(reflecting: key), dumped] {
            #expect(text.contains("cbeb362f1fa69a66"))
            #expect(!text.contains("cw_0x"))
            // The raw first byte (0x73) would show up in a default dump of the array.
            #expect(!text.contains("115"))
        }
    }

    @Test(
        "malformed keys are rejected without echoing them",
        arguments: [
            ("", "empty"),
            ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4", "base64"),  // missing padding
            ("cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=", "base64"),  // standard alphabet
            ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpw$4e4=", "base64"),  // symbol outside the alphabet
            ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF", "30"),
            ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpw=", "29"),
            ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4AAAAA", "36"),
        ]
    )
    func malformed(text: String, expectedFragment: String) {
        let error = #expect(throws: SecurityError.self) { try FernetKey(base64URL: text) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains(expectedFragment) == true, "\(error?.message ?? "")")
        #expect(error.map { $0.description.contains("cw_0x") || $0.description.contains("cw/0x") } == false)
    }

    @Test("surrounding whitespace from configuration files is ignored")
    func whitespace() throws {
        #expect(try FernetKey(base64URL: "  \(Self.specKeyText)\n").base64URL == Self.specKeyText)
    }

    @Test("raw bytes must be exactly 32")
    func rawBytes() throws {
        #expect(throws: SecurityError.self) { try FernetKey(bytes: [UInt8](repeating: 1, count: 31)) }
        let key = try FernetKey(bytes: [UInt8](repeating: 1, count: 32))
        #expect(key.base64URL == "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
    }
}
