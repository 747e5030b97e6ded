import Logging
import Testing

@testable import Redis

/// `connect(retryFor:)` against addresses where nothing listens: no server needed.
@Suite struct RedisConnectTests {
    @Test func retriesThenFailsNamingTheTargetButNotThePassword() async throws {
        // Port 1 on loopback: nothing listens there, so each attempt is refused at once.
        var configuration = try RedisConfiguration(url: "redis://:hunter2-secret@127.0.0.1:1/0")
        configuration.connectTimeout = .milliseconds(500)
        let client = RedisClient(configuration: configuration, logger: RedisTestServer.logger)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await redisError { try await client.connect(retryFor: .seconds(1)) }
        let elapsed = clock.now - start
        await client.shutdown()

        let thrown = try #require(error)
        #expect(thrown.code == .connectionFailed)
        #expect(thrown.description.contains("redis://:***@127.0.0.1:1/0"))
        #expect(thrown.description.contains("Connection refused"))
        #expect(!thrown.description.contains("hunter2"))
        // Only a gross upper bound: it gives up rather than retrying for ever (a loaded machine is slow, not wrong).
        #expect(elapsed.seconds >= 0.9 && elapsed.seconds < 30, "took \(elapsed)")
    }

    @Test func failsForAMissingUnixSocket() async throws {
        let configuration = try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock")
        let client = RedisClient(configuration: configuration, logger: RedisTestServer.logger)
        let error = await redisError { try await client.connect(retryFor: .milliseconds(200)) }
        await client.shutdown()
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("/tmp/jules-no-such-dir/redis.sock") == true)
        #expect(client.statistics.open == 0)
    }

    @Test func callsAfterShutdownFail() async throws {
        let configuration = try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock")
        let client = RedisClient(configuration: configuration, logger: RedisTestServer.logger)
        await client.shutdown()
        await client.shutdown()
        #expect(await redisError { try await client.ping() }?.code == .shutDown)
    }
}
