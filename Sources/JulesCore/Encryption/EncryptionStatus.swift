import JulesSecurity
import Postgres

/// How many stored values each key protects: what `encryption.status` reports and what `jules reencrypt` reduces.
public struct EncryptionStatus: Encodable, Sendable, Equatable {
    /// One configured key.
    public struct Key: Encodable, Sendable, Equatable {
        /// The key's fingerprint (never the key).
        public var keyID: String
        /// Its place in `JULES_ENCRYPTION_KEYS`, 0 being the newest (the one that encrypts).
        public var position: Int
        public var primary: Bool
        /// Stored tokens made with this key.
        public var values: Int

        enum CodingKeys: String, CodingKey {
            case keyID = "key_id"
            case position, primary, values
        }
    }

    /// Tokens made with a key that is not configured: they cannot be read until the key is added back.
    public struct UnknownKey: Encodable, Sendable, Equatable {
        public var keyID: String
        public var values: Int

        enum CodingKeys: String, CodingKey {
            case keyID = "key_id"
            case values
        }
    }

    public var primaryKeyID: String
    public var keys: [Key]
    public var unknownKeys: [UnknownKey]
    /// Tokens not made with the primary key: what `jules reencrypt` has left to do.
    public var valuesToReencrypt: Int
    public var totalValues: Int

    enum CodingKeys: String, CodingKey {
        case primaryKeyID = "primary_key_id"
        case keys
        case unknownKeys = "unknown_keys"
        case valuesToReencrypt = "values_to_reencrypt"
        case totalValues = "total_values"
    }

    /// Counts the tokens of every encrypted table by the key that made them.
    public static func measure(database: PostgresClient, cipher: PIICipher) async throws(PostgresError)
        -> EncryptionStatus
    {
        var counts: [String: Int] = [:]
        for table in EncryptedTable.all {
            let rows = try await database.query(
                """
                SELECT \(table.keyColumn) AS key_id, sum(\(table.tokenCountSQL))::bigint AS values
                FROM \(table.name) WHERE \(table.keyColumn) IS NOT NULL GROUP BY 1
                """
            )
            for row in rows {
                counts[try row.decode("key_id"), default: 0] += try row.decode("values", as: Int.self)
            }
        }
        let fingerprints = cipher.keyRing.fingerprints
        let keys = fingerprints.enumerated().map { position, keyID in
            Key(keyID: keyID, position: position, primary: position == 0, values: counts[keyID] ?? 0)
        }
        let unknown = counts.filter { !fingerprints.contains($0.key) }
            .map { UnknownKey(keyID: $0.key, values: $0.value) }
            .sorted { $0.keyID < $1.keyID }
        let total = counts.values.reduce(0, +)
        return EncryptionStatus(
            primaryKeyID: fingerprints[0],
            keys: keys,
            unknownKeys: unknown,
            valuesToReencrypt: total - (counts[fingerprints[0]] ?? 0),
            totalValues: total
        )
    }
}
