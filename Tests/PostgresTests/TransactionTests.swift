import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
struct TransactionTests {
    struct Boom: Error {}

    @Test func commitMakesRowsVisibleAndRollbackRemovesThem() async throws {
        let table = TestDatabase.uniqueName("tx")
        try await TestDatabase.withClient { client in
            _ = try await client.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
            let committed = try await client.withTransaction { transaction in
                try await transaction.query("INSERT INTO \(table) VALUES ($1), ($2)", [1, 2]).affectedRows
            }
            #expect(committed == 2)
            await #expect(throws: Boom.self) {
                try await client.withTransaction { transaction in
                    _ = try await transaction.query("INSERT INTO \(table) VALUES ($1)", [3])
                    // Visible inside the transaction…
                    #expect(try await transaction.query("SELECT id FROM \(table) WHERE id = 3").count == 1)
                    throw Boom()
                }
            }
            // …and gone after the rollback.
            let rows = try await client.query("SELECT id FROM \(table) ORDER BY id")
            let ids = try rows.map { try $0.decode(0, as: Int.self) }
            #expect(ids == [1, 2])
            #expect(client.statistics.inUse == 0)
            _ = try await client.query("DROP TABLE \(table)")
        }
    }

    @Test func aSwallowedStatementErrorMakesTheCommitFail() async throws {
        let table = TestDatabase.uniqueName("txfail")
        try await TestDatabase.withClient { client in
            _ = try await client.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
            let error = await expectPostgresError {
                try await client.withTransaction { transaction in
                    _ = try await transaction.query("INSERT INTO \(table) VALUES (1)")
                    _ = try? await transaction.query("INSERT INTO \(table) VALUES (1)")
                }
            }
            #expect(error?.sqlState == "25P02")
            #expect(try await client.query("SELECT id FROM \(table)").isEmpty)
            _ = try await client.query("DROP TABLE \(table)")
        }
    }

    @Test func aTransactionCannotBeUsedAfterItEnded() async throws {
        try await TestDatabase.withClient { client in
            let escaped = try await client.withTransaction { transaction in transaction }
            let error = await expectPostgresError { _ = try await escaped.query("SELECT 1") }
            #expect(error?.code == .connectionClosed)
            #expect(try await client.query("SELECT 1").count == 1)
        }
    }

    @Test func transactionsRunOnOneConnection() async throws {
        try await TestDatabase.withClient { client in
            try await client.withTransaction { transaction in
                let pid = "SELECT pg_backend_pid() AS pid"
                let first = try await transaction.query(pid)[0].decode("pid", as: Int.self)
                _ = try await client.query("SELECT 1")
                let second = try await transaction.query(pid)[0].decode("pid", as: Int.self)
                #expect(first == second)
                #expect(client.statistics.inUse == 1)
            }
        }
    }
}
