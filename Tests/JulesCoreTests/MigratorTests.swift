import JulesCore
import Postgres
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct MigratorTests {
    static let first = ("0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);")
    static let second = ("0002_b.sql", "CREATE TABLE b (id int PRIMARY KEY REFERENCES a (id));")

    func withDatabase(_ body: (PostgresClient) async throws -> Void) async throws {
        let (client, name) = try await StorageTestSupport.makeDatabase()
        do {
            try await body(client)
        } catch {
            await client.shutdown()
            try await StorageTestSupport.drop(name)
            throw error
        }
        await client.shutdown()
        try await StorageTestSupport.drop(name)
    }

    @Test func embeddedMigrationsAreWellFormedAndApply() async throws {
        let migrations = try Migration.embedded()
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == Array(1...migrations.count), "numbered without gaps")
        try await withDatabase { database in
            let migrator = Migrator(database: database, migrations: migrations, logger: StorageTestSupport.logger)
            #expect(try await migrator.migrate().count == migrations.count)
            #expect(try await migrator.migrate().isEmpty, "running it again is a no-op")
            let households = try await database.query("SELECT count(*) AS n FROM households")
            #expect(try households.first?.decode("n", as: Int64.self) == 0)
        }
    }

    @Test func appliesInOrderAndRecordsEach() async throws {
        try await withDatabase { database in
            let migrations = try Migration.ordered([Self.second, Self.first])
            let migrator = Migrator(database: database, migrations: migrations, logger: StorageTestSupport.logger)
            #expect(try await migrator.migrate() == ["0001_a.sql", "0002_b.sql"])
            let status = try await migrator.status()
            #expect(status.map(\.migration.name) == ["0001_a.sql", "0002_b.sql"])
            #expect(status.allSatisfy { $0.appliedAt != nil })
        }
    }

    @Test func statusListsPendingMigrations() async throws {
        try await withDatabase { database in
            let onlyFirst = try Migration.ordered([Self.first])
            try await Migrator(database: database, migrations: onlyFirst, logger: StorageTestSupport.logger).migrate()
            let both = try Migration.ordered([Self.first, Self.second])
            let status = try await Migrator(database: database, migrations: both, logger: StorageTestSupport.logger)
                .status()
            #expect(status.map { $0.appliedAt == nil } == [false, true])
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await withDatabase { database in
            let broken = try Migration.ordered([Self.first, ("0002_bad.sql", "CREATE TABLE c (id int); SELECT nope;")])
            let migrator = Migrator(database: database, migrations: broken, logger: StorageTestSupport.logger)
            await #expect(throws: (any Error).self) { try await migrator.migrate() }
            let tables = try await database.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'c'")
            #expect(try tables.first?.decode("n", as: Int64.self) == 0, "the failed migration rolled back whole")
            let status = try await migrator.status()
            #expect(status.map { $0.appliedAt == nil } == [false, true], "the first one stays applied")
        }
    }

    @Test func anEditedMigrationIsRefused() async throws {
        try await withDatabase { database in
            try await Migrator(
                database: database, migrations: try Migration.ordered([Self.first]), logger: StorageTestSupport.logger
            )
            .migrate()
            let edited = try Migration.ordered([("0001_a.sql", Self.first.1 + " -- changed")])
            let migrator = Migrator(database: database, migrations: edited, logger: StorageTestSupport.logger)
            await #expect { try await migrator.migrate() } throws: { "\($0)".contains("0001_a.sql was changed") }
            await #expect { try await migrator.status() } throws: { "\($0)".contains("was changed") }
        }
    }

    @Test func aDatabaseFromANewerBuildIsRefused() async throws {
        try await withDatabase { database in
            let both = try Migration.ordered([Self.first, Self.second])
            try await Migrator(database: database, migrations: both, logger: StorageTestSupport.logger).migrate()
            let older = Migrator(
                database: database,
                migrations: try Migration.ordered([Self.first]),
                logger: StorageTestSupport.logger
            )
            await #expect { try await older.migrate() } throws: { "\($0)".contains("does not know") }
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await withDatabase { database in
            let migrations = try Migration.ordered([Self.first, Self.second])
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await Migrator(
                            database: database, migrations: migrations, logger: StorageTestSupport.logger
                        )
                        .migrate()
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(applied.sorted() == ["0001_a.sql", "0002_b.sql"], "each applied by exactly one migrator")
            let rows = try await database.query("SELECT count(*) AS n FROM a")
            #expect(try rows.first?.decode("n", as: Int64.self) == 1, "the INSERT ran once")
        }
    }

    @Test(arguments: ["1_a.sql", "0001-a.sql", "0001_a.txt", "abcd_a.sql", "0000_a.sql"])
    func badFileNamesAreRefused(_ name: String) {
        #expect(throws: Migration.InvalidSet.self) { try Migration.ordered([(name, "SELECT 1")]) }
    }

    @Test func duplicateNumbersAreRefused() {
        #expect(throws: Migration.InvalidSet.self) {
            try Migration.ordered([("0001_a.sql", "SELECT 1"), ("0001_b.sql", "SELECT 2")])
        }
    }
}
