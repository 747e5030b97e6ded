import JSONRPC
import JulesSecurity
import Postgres

/// `encryption.encrypt`: a Fernet token of UTF-8 text, made with the API's key derived from the newest configured key.
struct EncryptionEncryptMethod: JSONRPCMethod {
    static let name = "encryption.encrypt"
    static let maximumPlaintextBytes = 32 * 1024

    struct Params: Decodable, Sendable {
        var plaintext: String
    }

    struct Result: Encodable, Sendable {
        var token: String
        var keyID: String

        enum CodingKeys: String, CodingKey {
            case token
            case keyID = "key_id"
        }
    }

    let cipher: APICipher

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        guard params.plaintext.utf8.count <= Self.maximumPlaintextBytes else {
            throw JSONRPCError.invalidParams(
                field: "params.plaintext", reason: "must be at most \(Self.maximumPlaintextBytes) bytes of UTF-8")
        }
        return Result(token: cipher.keyRing.encrypt(Array(params.plaintext.utf8)), keyID: cipher.keyIDs[0])
    }
}

/// `encryption.decrypt`: the text of a Fernet token made by `encryption.encrypt` with any configured key, optionally
/// no older than `ttl_seconds`. Tokens of stored member data do not open here (see ``APICipher``).
struct EncryptionDecryptMethod: JSONRPCMethod {
    static let name = "encryption.decrypt"

    struct Params: Decodable, Sendable {
        var token: String
        var ttlSeconds: Int64?

        enum CodingKeys: String, CodingKey {
            case token
            case ttlSeconds = "ttl_seconds"
        }
    }

    struct Result: Encodable, Sendable {
        var plaintext: String
        /// The fingerprint of the key that opened the token.
        var keyID: String

        enum CodingKeys: String, CodingKey {
            case plaintext
            case keyID = "key_id"
        }
    }

    let cipher: APICipher

    func handle(_ params: Params, context: RequestContext) async throws -> Result {
        if let ttl = params.ttlSeconds, ttl <= 0 {
            throw JSONRPCError.invalidParams(field: "params.ttl_seconds", reason: "must be a positive integer")
        }
        let opened: (plaintext: [UInt8], keyIndex: Int)
        do {
            opened = try cipher.keyRing.decryptWithKeyIndex(params.token, ttl: params.ttlSeconds)
        } catch {
            throw JSONRPCError.invalidParams(field: "params.token", reason: Self.reason(for: error))
        }
        guard let plaintext = String(validating: opened.plaintext, as: UTF8.self) else {
            throw JSONRPCError.invalidParams(field: "params.token", reason: "does not hold UTF-8 text")
        }
        return Result(plaintext: plaintext, keyID: cipher.keyIDs[opened.keyIndex])
    }

    private static func reason(for error: SecurityError) -> String {
        switch error.code {
        case .tooLarge: "is longer than \(Fernet.defaultMaximumTokenLength) characters"
        case .invalidSignature: "was not made by encryption.encrypt with any configured key, or was altered"
        case .expired: "is older than ttl_seconds"
        case .futureTimestamp: "has a timestamp in the future"
        default: "is not a valid Fernet token"
        }
    }
}

/// `encryption.status`: the configured keys by fingerprint, and how many stored values each still protects.
struct EncryptionStatusMethod: JSONRPCMethod {
    static let name = "encryption.status"

    let database: PostgresClient
    let cipher: PIICipher

    func handle(_ params: NoParams, context: RequestContext) async throws -> EncryptionStatus {
        try await EncryptionStatus.measure(database: database, cipher: cipher)
    }
}
