/// A table whose columns hold Fernet tokens made by ``PIICipher``, with the id of the key that made each row's
/// tokens beside them.
///
/// Every such table is listed in ``all``, so `jules reencrypt` and `encryption.status` cover it. The names are
/// constants of this file, never input.
struct EncryptedTable: Sendable {
    var name: String
    /// The `uuid` primary key.
    var idColumn: String
    /// Holds ``PIICipher/currentKeyID`` of the key that made the row's tokens; NULL when the row holds none.
    var keyColumn: String
    /// The token columns; any may be NULL.
    var tokenColumns: [String]

    static let all: [EncryptedTable] = [
        EncryptedTable(
            name: "members",
            idColumn: "id",
            keyColumn: "encryption_key_id",
            tokenColumns: ["name_ciphertext", "phone_ciphertext"]
        )
    ]

    /// `(a IS NOT NULL)::int + (b IS NOT NULL)::int …`: how many tokens a row holds.
    var tokenCountSQL: String {
        tokenColumns.map { "(\($0) IS NOT NULL)::int" }.joined(separator: " + ")
    }
}
