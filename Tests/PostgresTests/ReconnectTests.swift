import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason))
struct ReconnectTests {
    @Test(
        .enabled(if: TestDatabase.services != nil, "JULES_TEST_SERVICES is not set; cannot restart PostgreSQL"),
        .databaseAccess(.exclusive),
        .timeLimit(.minutes(1))
    )
    func aServerRestartCostsNoQuery() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 3 }) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { _ = try await client.query("SELECT pg_sleep(0.05)") } }
                try await group.waitForAll()
            }
            #expect(client.statistics.idle == 3)
            let before = try await client.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int.self)

            try await TestDatabase.runServices("postgres restart")

            // Every idle connection is dead now; each checkout must notice and reconnect before sending.
            let after = try await client.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int.self)
            #expect(after != before)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try await client.query("SELECT pg_sleep(0.02)") } }
                try await group.waitForAll()
            }
            #expect(client.statistics.open <= 3)
        }
    }

    @Test(.databaseAccess(.shared))
    func aTerminatedIdleConnectionIsReplacedAtCheckout() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 1 }) { client in
            let pid = try await client.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int64.self)
            try await TestDatabase.withClient { admin in
                // The second argument makes the server wait until the backend is gone.
                let rows = try await admin.query("SELECT pg_terminate_backend($1::int4, 5000) AS done", [.int(pid)])
                #expect(try rows[0].decode("done", as: Bool.self))
            }
            let newPID = try await client.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int64.self)
            #expect(newPID != pid)
            #expect(client.statistics.open == 1)
        }
    }

    @Test(.databaseAccess(.shared))
    func aConnectionKilledMidQueryFailsThatQueryOnly() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 1 }) { client in
            let pid = try await client.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int64.self)
            let error = try await withThrowingTaskGroup(of: PostgresError?.self) { group in
                group.addTask { await expectPostgresError { _ = try await client.query("SELECT pg_sleep(5)") } }
                try await TestDatabase.withClient { admin in
                    try await waitUntilAsync {
                        let rows = try await admin.query(
                            "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(5)%'",
                            [.int(pid)]
                        )
                        return try rows[0].decode("n", as: Int.self) == 1
                    }
                    _ = try await admin.query("SELECT pg_terminate_backend($1::int4, 5000)", [.int(pid)])
                }
                return try await group.next() ?? nil
            }
            #expect(error?.code == .connectionClosed)
            #expect(client.statistics == PostgresPoolStatistics(size: 1, open: 0, inUse: 0, idle: 0, waiting: 0))
            #expect(try await client.query("SELECT 1").count == 1)
        }
    }
}

/// Polls an asynchronous condition (bounded: fails after five seconds).
func waitUntilAsync(_ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(5))
    while try await !condition() {
        guard clock.now < deadline else {
            Issue.record("condition not met within 5 s")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
