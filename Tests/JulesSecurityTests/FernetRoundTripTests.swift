import JulesSecurity
import Testing

@Suite("Fernet round trips and limits")
struct FernetRoundTripTests {
    /// Sizes around the AES block boundary, empty, and one large payload.
    @Test("encrypt then decrypt returns the plaintext", arguments: [0, 1, 15, 16, 17, 1 << 20])
    func roundTrip(size: Int) throws {
        // A large limit on the reading side, since a 1 MiB plaintext makes a ~1.4 MB token.
        let fernet = Fernet(key: .generate(), maximumTokenLength: 2 << 20)
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let token = fernet.encrypt(plaintext)
        #expect(try fernet.decrypt(token, ttl: 60) == plaintext)
        // Ciphertext is the plaintext padded to whole blocks (a full extra block when already aligned).
        let expectedBytes = 1 + 8 + 16 + (size / 16 + 1) * 16 + 32
        #expect(token.utf8.count == (expectedBytes + 2) / 3 * 4)
    }

    @Test("random IVs make every token different")
    func randomIV() {
        let fernet = Fernet(key: .generate())
        #expect(fernet.encrypt([1, 2, 3], now: 1000) != fernet.encrypt([1, 2, 3], now: 1000))
    }

    @Test("tokens over the size limit are refused before decoding")
    func sizeLimit() throws {
        let fernet = Fernet(key: .generate())
        let token = fernet.encrypt([UInt8](repeating: 0, count: 64 * 1024))
        let error = #expect(throws: SecurityError.self) { try fernet.decrypt(token) }
        #expect(error?.code == .tooLarge)
        #expect(error?.message.contains("65536") == true)
    }

    @Test("a token from another key fails the HMAC check")
    func wrongKey() {
        let token = Fernet(key: .generate()).encrypt(Array("secret".utf8))
        let error = #expect(throws: SecurityError.self) { try Fernet(key: .generate()).decrypt(token) }
        #expect(error?.code == .invalidSignature)
    }

    @Test("time rules: ttl boundary, clock skew boundary with a ttl, no time rules without one")
    func timeRules() throws {
        let fernet = Fernet(key: .generate())
        let token = fernet.encrypt([42], now: 1_000_000)
        #expect(try fernet.decrypt(token, ttl: 10, now: 1_000_010) == [42])
        #expect(throws: SecurityError.self) { try fernet.decrypt(token, ttl: 10, now: 1_000_011) }
        #expect(try fernet.decrypt(token, now: 9_000_000_000) == [42])
        #expect(try fernet.decrypt(token, ttl: 100, now: 1_000_000 - 60) == [42])
        let error = #expect(throws: SecurityError.self) { try fernet.decrypt(token, ttl: 100, now: 1_000_000 - 61) }
        #expect(error?.code == .futureTimestamp)
        #expect(try fernet.decrypt(token, ttl: 100, now: 999_990, maximumClockSkew: 10) == [42])
        // Without a time-to-live time is not checked at all: a token from a host whose clock ran ahead still opens
        // (stored names and numbers), as in Python's and Go's Fernet.
        #expect(try fernet.decrypt(token, now: 1_000_000 - 3_600) == [42])
        #expect(try fernet.decrypt(fernet.encrypt([7], now: 4_000_000_000), now: 1_000_000) == [7])
    }

    @Test("extreme timestamps neither trap nor pass the ttl check")
    func extremeTimestamps() throws {
        let fernet = Fernet(key: .generate())
        let ancient = fernet.encrypt([1], now: .min)
        let error = #expect(throws: SecurityError.self) { try fernet.decrypt(ancient, ttl: 60, now: .max) }
        #expect(error?.code == .expired)
        let distant = fernet.encrypt([1], now: .max)
        #expect(try fernet.decrypt(distant, now: .max, maximumClockSkew: .max) == [1])
    }

    @Test("tokens must be padded base64url; standard-alphabet and unpadded spellings are rejected")
    func strictEncoding() throws {
        let fernet = Fernet(key: .generate())
        var token = fernet.encrypt([UInt8](repeating: 0xFB, count: 40))
        while token.hasSuffix("=") { token.removeLast() }
        for bad in [token, token.replacingAll("-", "+").replacingAll("_", "/"), " " + token, ""] where bad != token {
            let error = #expect(throws: SecurityError.self) { try fernet.decrypt(bad) }
            #expect(error?.code == .invalidToken)
        }
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, _ replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
