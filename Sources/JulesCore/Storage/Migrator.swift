import Logging
import Postgres

/// Applies migrations in order, each in its own transaction, and records each with a checksum of its SQL.
///
/// Several instances may start at once: every migration's transaction first takes one transaction-scoped advisory
/// lock and then re-reads what is applied, so each migration runs exactly once and the others wait and skip it.
/// A migration edited after it was applied is refused instead of silently diverging from the database.
public struct Migrator: Sendable {
    /// The advisory lock key shared by every instance (an arbitrary constant: "jules.migrations").
    static let lockKey: Int64 = 0x6A75_6C65_735F_6D67

    /// A migration's state in the database.
    public struct Status: Sendable {
        public var migration: Migration
        /// When it was applied; `nil` while pending.
        public var appliedAt: String?
    }

    /// Why migrating stopped.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    private let database: PostgresClient
    private let migrations: [Migration]
    private let logger: Logger

    public init(database: PostgresClient, migrations: [Migration], logger: Logger) {
        self.database = database
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies every pending migration; returns the names of those applied by this call.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await ensureTable()
        // Before anything is applied: a database a newer build has migrated is not changed by an older one.
        try await checkNoUnknownVersions()
        var applied: [String] = []
        for migration in migrations {
            let ran = try await database.withTransaction { transaction in
                // Read committed whatever the server's default, so the re-read after the lock sees what another
                // instance committed meanwhile; and no statement timeout: waiting for the lock, or for an ALTER
                // TABLE's lock behind a long transaction, or the ALTER itself on a large table, can take longer
                // than the connections' 30 s, and a migration cancelled at every start would never be applied.
                _ = try await transaction.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                _ = try await transaction.query("SET LOCAL statement_timeout = 0")
                _ = try await transaction.query("SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey)])
                let existing = try await transaction.query(
                    "SELECT checksum FROM schema_migrations WHERE version = $1",
                    [.int(Int64(migration.version))]
                )
                let checksum = try await Self.checksum(of: migration, in: transaction)
                if let row = existing.first {
                    let recorded: String = try row.decode("checksum")
                    guard recorded == checksum else { throw Self.editedFailure(migration) }
                    return false
                }
                // Without parameters a statement text may hold several statements (the simple query protocol).
                _ = try await transaction.query(migration.sql)
                _ = try await transaction.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int(Int64(migration.version)), .text(migration.name), .text(checksum)]
                )
                return true
            }
            if ran {
                logger.info("migration applied", metadata: ["migration": .string(migration.name)])
                applied.append(migration.name)
            }
        }
        try await checkNoUnknownVersions()
        return applied
    }

    /// Checks, without changing anything, that every migration of this build has been applied unedited (for a
    /// server started without migrating, which would otherwise fail in its queries). Migrations this build does
    /// not know (a newer build ran first) are allowed here and returned: an older instance may go on serving
    /// during a rolling upgrade.
    public func verifyApplied() async throws -> (pending: [Migration], unknown: [String]) {
        let recorded = try await records()
        try await checkUnedited(recorded)
        return (migrations.filter { recorded[$0.version] == nil }, unknownNames(recorded))
    }

    /// Every migration of this build with when it was applied, and any edited or unknown one reported as an error.
    public func status() async throws -> [Status] {
        try await ensureTable()
        let recorded = try await records()
        try await checkUnedited(recorded)
        if let name = unknownNames(recorded).first { throw Self.unknownFailure(name) }
        return migrations.map { Status(migration: $0, appliedAt: recorded[$0.version]?.appliedAt) }
    }

    /// A row of `schema_migrations`.
    private struct Record {
        var name: String
        var checksum: String
        var appliedAt: String
    }

    /// What `schema_migrations` records, by version; nothing when the table does not exist yet (read without
    /// creating it).
    private func records() async throws -> [Int: Record] {
        let table = try await database.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try table.first?.decode("present", as: Bool.self) == true else { return [:] }
        let rows = try await database.query(
            "SELECT version, name, checksum, "
                + "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at "
                + "FROM schema_migrations ORDER BY version"
        )
        var records: [Int: Record] = [:]
        for row in rows {
            let version: Int64 = try row.decode("version")
            records[Int(version)] = Record(
                name: try row.decode("name"), checksum: try row.decode("checksum"), appliedAt: try row.decode("at"))
        }
        return records
    }

    /// Throws for a migration of this build recorded with the checksum of another text.
    private func checkUnedited(_ records: [Int: Record]) async throws {
        for migration in migrations {
            guard let record = records[migration.version] else { continue }
            let checksum: String = try await database.query(Self.checksumSQL, [.text(migration.sql)]).first!
                .decode("checksum")
            guard checksum == record.checksum else { throw Self.editedFailure(migration) }
        }
    }

    /// The names of recorded migrations this build does not have, in version order.
    private func unknownNames(_ records: [Int: Record]) -> [String] {
        let known = Set(migrations.map(\.version))
        return records.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value.name)
    }

    private func ensureTable() async throws {
        // Created outside the migrations themselves: it is what records them. IF NOT EXISTS under the same lock
        // keeps two instances starting together from racing on it.
        _ = try await database.withTransaction { transaction in
            _ = try await transaction.query("SELECT pg_advisory_xact_lock($1)", [.int(Self.lockKey)])
            _ = try await transaction.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY CHECK (version > 0),
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
        }
    }

    private func checkNoUnknownVersions() async throws {
        if let name = unknownNames(try await records()).first { throw Self.unknownFailure(name) }
    }

    /// SHA-256 of a migration's text, as recorded ($1: the text).
    private static let checksumSQL = "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS checksum"

    private static func checksum(of migration: Migration, in transaction: PostgresTransaction) async throws -> String {
        try await transaction.query(checksumSQL, [.text(migration.sql)]).first!.decode("checksum")
    }

    private static func unknownFailure(_ name: String) -> Failure {
        Failure(
            description: "the database has migration \(name), which this build does not know: "
                + "it was migrated by a newer version of jules"
        )
    }

    private static func editedFailure(_ migration: Migration) -> Failure {
        Failure(
            description: "migration \(migration.name) was changed after it was applied; "
                + "restore its original text and put the change in a new migration"
        )
    }
}
