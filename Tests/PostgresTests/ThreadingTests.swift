import Testing

@testable import Postgres

@Suite struct ThreadingTests {
    @Test func testsRunOffTheThreadPool() {
        #expect(!LibPQThread.isCurrentThreadMarked)
    }

    @Test(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
    func libpqRunsOnlyOnTheClientsThreadPool() async throws {
        try await TestDatabase.withClient { client in
            let onPool = try await client.run { LibPQThread.isCurrentThreadMarked }
            #expect(onPool)
            _ = try await client.query("SELECT $1::text", ["x"])
            _ = try await client.withTransaction { try await $0.query("SELECT 1") }
            _ = await expectPostgresError { _ = try await client.query("SELECT * FROM missing_table_for_thread_test") }
        }
        // Every libpq entry point checks its thread; none may have run elsewhere (e.g. on the cooperative pool).
        #expect(LibPQThread.violations == 0)
    }
}
