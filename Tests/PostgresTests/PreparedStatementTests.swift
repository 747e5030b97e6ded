import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
struct PreparedStatementTests {
    @Test func aSchemaChangeUnderACachedStatementIsAbsorbed() async throws {
        let table = TestDatabase.uniqueName("prepared")
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 1 }) { client in
            _ = try await client.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
            _ = try await client.query("INSERT INTO \(table) VALUES ($1)", [1])
            let select = "SELECT * FROM \(table) WHERE id = $1"
            #expect(try await client.query(select, [1]).columns == ["id"])
            _ = try await client.query("ALTER TABLE \(table) ADD COLUMN note text DEFAULT 'n'")
            // The cached plan's result type changed (0A000): re-prepared and retried once, invisibly.
            let rows = try await client.query(select, [1])
            #expect(rows.columns == ["id", "note"])
            #expect(try rows[0].decode("note", as: String.self) == "n")
            _ = try await client.query("DROP TABLE \(table)")
        }
    }

    @Test func statementsDeallocatedBehindTheClientsBackAreRePrepared() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 1 }) { client in
            #expect(try await client.query("SELECT $1::int8 + 1 AS n", [1])[0].decode("n", as: Int.self) == 2)
            _ = try await client.query("DEALLOCATE ALL")
            #expect(try await client.query("SELECT $1::int8 + 1 AS n", [2])[0].decode("n", as: Int.self) == 3)
        }
    }

    @Test func aFullCacheStartsOver() async throws {
        try await TestDatabase.withClient(
            try TestDatabase.configuration {
                $0.poolSize = 1
                $0.preparedStatementCacheSize = 2
            }
        ) { client in
            for round in 0..<2 {
                for offset in 0..<3 {
                    let rows = try await client.query("SELECT $1::int8 + \(offset) AS n", [.int(Int64(round))])
                    #expect(try rows[0].decode("n", as: Int.self) == round + offset)
                }
            }
            let prepared = try await client.query("SELECT count(*) AS n FROM pg_prepared_statements")
            #expect(try prepared[0].decode("n", as: Int.self) <= 2)
        }
    }

    @Test func theCacheCanBeTurnedOff() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.preparedStatementCacheSize = 0 }) {
            client in
            #expect(try await client.query("SELECT $1::text AS t", ["x"])[0].decode("t", as: String.self) == "x")
            let prepared = try await client.query("SELECT count(*) AS n FROM pg_prepared_statements WHERE $1", [true])
            #expect(try prepared[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test func errorsWhilePreparingReachTheCaller() async throws {
        try await TestDatabase.withClient { client in
            let error = await expectPostgresError { _ = try await client.query("SELECT $1 FROM no_such_table", [1]) }
            #expect(error?.sqlState == "42P01")
            let five = try await client.query("SELECT $1::int8 AS n", [5])[0].decode("n", as: Int.self)
            #expect(five == 5)
        }
    }
}
