import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
struct PoolTests {
    @Test func statementTimeoutIsReportedAsTimeout() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.statementTimeout = .milliseconds(50) }) {
            client in
            let error = await expectPostgresError { _ = try await client.query("SELECT pg_sleep(2)") }
            #expect(error?.code == .timeout)
            #expect(error?.sqlState == "57014")
            // The connection survives a statement timeout.
            let rows = try await client.query("SELECT 1")
            #expect(rows.count == 1)
            #expect(client.statistics.open == 1)
        }
    }

    @Test func callersWaitForAFreeConnection() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 2 }) { client in
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { _ = try await client.query("SELECT pg_sleep(0.3)") }
                }
                try await group.waitForAll()
            }
            let elapsed = start.duration(to: clock.now)
            // Two waves of two: the pool never opened more than two connections.
            #expect(elapsed >= .milliseconds(600), "two rounds of 0.3 s: callers queued; took \(elapsed)")
            #expect(client.statistics == PostgresPoolStatistics(size: 2, open: 2, inUse: 0, idle: 2, waiting: 0))
        }
    }

    @Test func aCallerGivesUpAfterTheAcquireTimeout() async throws {
        try await TestDatabase.withClient(
            try TestDatabase.configuration {
                $0.poolSize = 2
                $0.acquireTimeout = .milliseconds(100)
            }
        ) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Long enough that both are still running when the third caller queues on a busy machine (a CI run
                // once took over a second between the two: 1 s did not).
                for _ in 0..<2 {
                    group.addTask { _ = try await client.query("SELECT pg_sleep(3)") }
                }
                try await waitUntil { client.statistics.inUse == 2 }
                let clock = ContinuousClock()
                let start = clock.now
                let error = await expectPostgresError { _ = try await client.query("SELECT 1") }
                let waited = start.duration(to: clock.now)
                #expect(error?.code == .poolTimeout)
                #expect(waited >= .milliseconds(100), "waited the acquire timeout first; waited \(waited)")
                #expect(client.statistics.waiting == 0)
                try await group.waitForAll()
            }
            #expect(try await client.query("SELECT 1").count == 1)
        }
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        try await TestDatabase.withClient(try TestDatabase.configuration { $0.poolSize = 1 }) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Long enough that the waiter surely queues behind it on a busy machine (half a second did not).
                group.addTask { _ = try await client.query("SELECT pg_sleep(3)") }
                try await waitUntil { client.statistics.inUse == 1 }
                let waiter = Task { try await client.query("SELECT 1") }
                try await waitUntil { client.statistics.waiting == 1 }
                waiter.cancel()
                let error = await expectPostgresError { _ = try await waiter.value }
                #expect(error?.code == .cancelled)
                #expect(client.statistics.waiting == 0)
                try await group.waitForAll()
            }
        }
    }

    /// Callers cancelled as they start to wait (before, during or after they join the queue) all end at once with
    /// `cancelled`: none stays queued until the acquire timeout.
    @Test func callersCancelledAsTheyQueueDoNotWaitForTheTimeout() async throws {
        try await TestDatabase.withClient(
            try TestDatabase.configuration {
                $0.poolSize = 1
                $0.acquireTimeout = .seconds(30)
            }
        ) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await client.query("SELECT pg_sleep(3)") }
                try await waitUntil { client.statistics.inUse == 1 }
                let waiters = (0..<300).map { _ in Task { try await client.query("SELECT 1") } }
                for waiter in waiters { waiter.cancel() }
                // While the 3 s query still holds the connection, the queue empties: none stays for the timeout.
                try await waitUntil { client.statistics.waiting == 0 }
                for waiter in waiters {
                    let error = await expectPostgresError { _ = try await waiter.value }
                    #expect(error?.code == .cancelled)
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func shutdownWaitsForInFlightWork() async throws {
        let client = PostgresClient(configuration: try TestDatabase.configuration(), logger: TestDatabase.logger)
        // Long enough to be seen in use on a busy machine.
        async let slow = client.query("SELECT pg_sleep(1) AS slept")
        try await waitUntil { client.statistics.inUse == 1 }
        await client.shutdown()
        #expect(try await slow.count == 1)
        #expect(client.statistics.open == 0)
        #expect(await expectPostgresError { _ = try await client.query("SELECT 1") }?.code == .shutDown)
    }
}

/// Polls a condition that another task makes true (bounded: fails after two seconds).
func waitUntil(_ condition: () -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: .seconds(2))
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("condition not met within 2 s")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
