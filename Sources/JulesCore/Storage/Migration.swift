/// One schema change: `migrations/NNNN_name.sql`, built into the binary.
public struct Migration: Sendable, Hashable {
    /// The number that orders migrations (`NNNN`).
    public let version: Int
    /// The file name, such as `0001_households.sql`.
    public let name: String
    /// The SQL, run as one script inside one transaction.
    public let sql: String

    /// Why the migrations built into this binary are unusable.
    public struct InvalidSet: Error, CustomStringConvertible {
        public let description: String
    }

    /// The migrations built into this binary, in order.
    public static func embedded() throws(InvalidSet) -> [Migration] {
        try ordered(EmbeddedMigrations.files.map { ($0.name, String(decoding: $0.bytes, as: UTF8.self)) })
    }

    /// Validates names (`NNNN_name.sql`, unique numbers) and orders files by version.
    public static func ordered(_ files: [(name: String, sql: String)]) throws(InvalidSet) -> [Migration] {
        var migrations: [Migration] = []
        for file in files {
            let digits = file.name.prefix { $0.isASCII && $0.isNumber }
            guard digits.count == 4, let version = Int(digits), version > 0,
                file.name.dropFirst(4).hasPrefix("_"), file.name.hasSuffix(".sql")
            else {
                throw InvalidSet(description: "migration file \(file.name) is not named NNNN_name.sql")
            }
            guard !migrations.contains(where: { $0.version == version }) else {
                throw InvalidSet(description: "two migration files share the number \(digits)")
            }
            migrations.append(Migration(version: version, name: file.name, sql: file.sql))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}
