import JulesSecurity
import Testing

/// The official fernet/spec vectors.
@Suite("Fernet spec vectors")
struct FernetVectorTests {
    @Test("generate.json: exact token from the given IV and time", arguments: try FernetVector.load("generate.json"))
    func generate(vector: FernetVector) throws {
        let fernet = Fernet(key: try FernetKey(base64URL: vector.secret))
        let source = try #require(vector.src)
        let iv: [UInt8] = try #require(vector.iv)
        let token = fernet.encrypt(Array(source.utf8), now: try vector.nowUnixSeconds, iv: iv)
        #expect(token == vector.token)
    }

    @Test("verify.json: decrypts to src", arguments: try FernetVector.load("verify.json"))
    func verify(vector: FernetVector) throws {
        let fernet = Fernet(key: try FernetKey(base64URL: vector.secret))
        let plaintext = try fernet.decrypt(vector.token, ttl: vector.ttlSeconds, now: try vector.nowUnixSeconds)
        #expect(plaintext == Array(try #require(vector.src).utf8))
    }

    /// The expected code for each `desc` in invalid.json; a new upstream case without a mapping fails the test.
    static let expectedCodes: [String: SecurityError.Code] = [
        "incorrect mac": .invalidSignature,
        "too short": .invalidToken,
        "invalid base64": .invalidToken,
        "payload size not multiple of block size": .invalidToken,
        "payload padding error": .invalidPadding,
        "far-future TS (unacceptable clock skew)": .futureTimestamp,
        "expired TTL": .expired,
        "incorrect IV (causes padding error)": .invalidPadding,
    ]

    @Test("invalid.json: rejected with the matching code", arguments: try FernetVector.load("invalid.json"))
    func invalid(vector: FernetVector) throws {
        let fernet = Fernet(key: try FernetKey(base64URL: vector.secret))
        let desc = try #require(vector.desc)
        let expected = try #require(Self.expectedCodes[desc], "no expected code for \"\(desc)\"")
        let now = try vector.nowUnixSeconds
        let error = #expect(throws: SecurityError.self) {
            try fernet.decrypt(vector.token, ttl: vector.ttlSeconds, now: now)
        }
        #expect(error?.code == expected)
    }

    @Test("the vector files are all present and non-empty")
    func filesLoad() throws {
        #expect(try FernetVector.load("generate.json").count == 1)
        #expect(try FernetVector.load("verify.json").count == 1)
        #expect(try FernetVector.load("invalid.json").count == Self.expectedCodes.count)
    }
}
