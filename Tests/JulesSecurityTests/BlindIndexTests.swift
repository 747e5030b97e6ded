import Foundation
import JulesSecurity
import Testing

@Suite("BlindIndex")
struct BlindIndexTests {
    /// Key bytes 0x00…0x1f.
    static let key: [UInt8] = Array(0..<32)

    /// Expected values computed independently with Python 3's standard library:
    /// `hmac.new(bytes(range(32)), value.encode(), hashlib.sha256).hexdigest()`.
    @Test(
        "known answers",
        arguments: [
            ("+14155552671", "43bd23d176f53020f2cb7760abb716f565b715cb8060c567f14bd7e8a70bb451"),
            ("+447911123456", "ca043fe6a0f11abd63501250ba67e8aae76b099afcae60d6c85cf3fa65a8141d"),
            ("", "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb"),
        ]
    )
    func knownAnswer(value: String, expected: String) throws {
        let index = try BlindIndex(key: Self.key)
        #expect(index.index(value) == expected)
        #expect(index.index(value) == index.index(value))
    }

    /// `base64.urlsafe_b64encode(bytes(range(32)))` is the same key as text.
    @Test("base64url key text gives the same index")
    func fromText() throws {
        let index = try BlindIndex(base64URL: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        #expect(index.index("+14155552671") == "43bd23d176f53020f2cb7760abb716f565b715cb8060c567f14bd7e8a70bb451")
    }

    /// Python: `hmac.new(bytes(range(1, 33)), b"+14155552671", hashlib.sha256).hexdigest()`.
    @Test("different keys give different indexes")
    func differentKeys() throws {
        let other = try BlindIndex(key: Array(1...32))
        #expect(other.index("+14155552671") == "83864c3b30d3164a848bd48f14fe32dcace2f622c448000e47ece12951b69202")
        #expect(try BlindIndex(key: Self.key).index("+14155552671") != other.index("+14155552671"))
    }

    @Test("output is 64 lowercase hex characters")
    func format() throws {
        let value = try BlindIndex(key: Self.key).index("+15550000000")
        #expect(value.count == 64)
        #expect(value.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("short or malformed keys are rejected; the key is not printed")
    func invalidKeys() throws {
        let short = #expect(throws: SecurityError.self) { try BlindIndex(key: Array(0..<31)) }
        #expect(short?.code == .invalidKey)
        #expect(throws: SecurityError.self) { try BlindIndex(base64URL: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") }
        #expect(throws: SecurityError.self) { try BlindIndex(base64URL: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==") }
        var dumped = ""
        dump(try BlindIndex(key: Array(repeating: 0xAB, count: 32)), to: &dumped)
        #expect(!dumped.contains("171"))
    }

    @Test("a key that is also one of the Fernet keys is told apart")
    func sharedKeys() throws {
        let fernet = FernetKey.generate()
        let ring = try FernetKeyRing(keys: [FernetKey.generate(), fernet])
        #expect(try BlindIndex(base64URL: fernet.base64URL).sharesKey(with: ring))
        #expect(!(try BlindIndex(base64URL: BlindIndex.generateKey()).sharesKey(with: ring)))
        // A longer key that begins with a Fernet key is that key too.
        let standard = fernet.base64URL
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let longer = try BlindIndex(key: Array(try #require(Data(base64Encoded: standard))) + [1, 2, 3])
        #expect(longer.sharesKey(with: ring))
    }
}
