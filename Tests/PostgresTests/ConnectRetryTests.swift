import Foundation
import Testing

@testable import Postgres

/// Needs no server: it points the client at a socket folder where nothing listens.
@Suite struct ConnectRetryTests {
    @Test func givesUpAfterTheRetryTimeWithoutLeakingThePassword() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nopg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = try PostgresConfiguration(
            connectionString: "postgresql://jules:hunter2secret@/jules?host=\(folder.path)&port=5432"
        )
        let client = PostgresClient(configuration: configuration, logger: TestDatabase.logger)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await expectPostgresError { try await client.connect(retryFor: .seconds(1)) }
        let elapsed = start.duration(to: clock.now)
        #expect(error?.code == .connectionFailed)
        // Only a gross upper bound: it gives up rather than retrying for ever (a loaded machine is slow, not wrong).
        #expect(elapsed >= .seconds(1) && elapsed < .seconds(30), "took \(elapsed)")
        let description = error?.description ?? ""
        #expect(description.contains("host=\(folder.path)"))
        #expect(description.contains("dbname=jules"))
        #expect(description.contains("user=jules"))
        #expect(!description.contains("hunter2secret"))
        #expect(client.statistics.open == 0)
        await client.shutdown()
    }

    @Test func queriesFailFastWhenTheServerIsUnreachable() async throws {
        let configuration = try PostgresConfiguration(connectionString: "host=/nonexistent/pg-socket-dir dbname=x")
        let client = PostgresClient(configuration: configuration, logger: TestDatabase.logger)
        let error = await expectPostgresError { _ = try await client.query("SELECT 1") }
        #expect(error?.code == .connectionFailed)
        // The failed connection gave its slot back.
        #expect(client.statistics == PostgresPoolStatistics(size: 10, open: 0, inUse: 0, idle: 0, waiting: 0))
        await client.shutdown()
    }

    @Test func everyCallAfterShutdownThrowsShutDown() async throws {
        let configuration = try PostgresConfiguration(connectionString: "host=/nonexistent/pg-socket-dir dbname=x")
        let client = PostgresClient(configuration: configuration, logger: TestDatabase.logger)
        await client.shutdown()
        await client.shutdown()
        #expect(await expectPostgresError { _ = try await client.query("SELECT 1") }?.code == .shutDown)
        #expect(await expectPostgresError { try await client.connect(retryFor: .seconds(1)) }?.code == .shutDown)
        let error = await expectPostgresError { _ = try await client.withTransaction { _ in 1 } }
        #expect(error?.code == .shutDown)
    }
}
