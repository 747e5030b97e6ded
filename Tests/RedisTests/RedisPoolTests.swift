import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Pool {
        @Test func exhaustedPoolMakesCallersWait() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(poolSize: 2)) { client in
                let clock = ContinuousClock()
                let start = clock.now
                let replies = try await withThrowingTaskGroup(of: RedisReply.self) { group in
                    for _ in 0..<4 {
                        let key = RedisTestServer.key()
                        group.addTask { try await client.command(["BLPOP", RedisArgument(key), "0.3"]) }
                    }
                    try await Task.sleep(for: .milliseconds(150))
                    let busy = client.statistics
                    #expect(busy.inUse == 2 && busy.waiting == 2, "\(busy)")
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(replies == Array(repeating: .null, count: 4))
                // Two rounds of 0.3 s: the last two waited for the first two.
                #expect((clock.now - start).seconds >= 0.55)
                let idle = client.statistics
                #expect(idle == RedisPoolStatistics(size: 2, open: 2, inUse: 0, idle: 2, waiting: 0))
            }
        }

        @Test func waitingIsBoundedByTheAcquireTimeout() async throws {
            try await RedisTestServer.withClient(
                try RedisTestServer.configuration(poolSize: 2, acquireTimeout: .milliseconds(100))
            ) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<2 {
                        let key = RedisTestServer.key()
                        group.addTask { _ = try await client.command(["BLPOP", RedisArgument(key), "1"]) }
                    }
                    try await Task.sleep(for: .milliseconds(200))
                    let clock = ContinuousClock()
                    let start = clock.now
                    let error = await redisError { try await client.ping() }
                    let elapsed = clock.now - start
                    #expect(error?.code == .poolTimeout)
                    #expect(elapsed.seconds >= 0.09, "waited the acquire timeout first; took \(elapsed)")
                    #expect(client.statistics.waiting == 0)
                    try await group.waitForAll()
                }
                try await client.ping()
            }
        }

        @Test func cancelledWaiterStopsWaiting() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(poolSize: 1)) { client in
                let key = RedisTestServer.key()
                async let busy = client.command(["BLPOP", RedisArgument(key), "0.5"])
                try await Task.sleep(for: .milliseconds(100))
                let waiter = Task { await redisError { try await client.ping() } }
                try await Task.sleep(for: .milliseconds(50))
                #expect(client.statistics.waiting == 1)
                waiter.cancel()
                #expect(await waiter.value?.code == .cancelled)
                #expect(try await busy == .null)
                try await client.ping()
            }
        }

        @Test func shutdownFailsWaitingCallers() async throws {
            let client = RedisClient(
                configuration: try RedisTestServer.configuration(poolSize: 1),
                logger: RedisTestServer.logger
            )
            let key = RedisTestServer.key()
            async let busy = redisError { try await client.command(["BLPOP", RedisArgument(key), "0.3"]) }
            try await Task.sleep(for: .milliseconds(100))
            async let waiting = redisError { try await client.ping() }
            try await Task.sleep(for: .milliseconds(50))
            await client.shutdown()
            #expect(await waiting?.code == .shutDown)
            // The command in flight finished before the threads stopped.
            #expect(await busy == nil)
            #expect(client.statistics.open == 0)
        }
    }
}
