import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Threads {
        @Test func commandsWorkWithTheClientExecutorPreference() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(poolSize: 2)) { client in
                let key = RedisTestServer.key()
                let bytes = (0...255).map { UInt8($0) }
                let values = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                    for _ in 0..<8 {
                        group.addTask(executorPreference: client.executor) {
                            try await client.set(RedisArgument(key), RedisArgument(bytes))
                            return try await client.get(key)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(values == Array(repeating: bytes, count: 8))

                // The same failures as on the hopping path: a server error, and a timeout that discards.
                #expect(!client.threadPoolExecutor.isCurrentThread)
                try await withTaskExecutorPreference(client.executor) {
                    // On one of the client's threads, so commands skip the hop.
                    #expect(client.threadPoolExecutor.isCurrentThread)
                    let error = await redisError { try await client.command(["LPUSH", key, "x"]) }
                    #expect(error?.code == .server)
                    let results = try await client.pipeline([["GET", key], ["PING"]])
                    #expect(try results[1].get() == .status("PONG"))
                }
                try await client.delete(key)
            }
        }

        @Test func fewerThreadsThanConnectionsQueueBlockingCommands() async throws {
            let configuration = try RedisTestServer.configuration(poolSize: 2, threadCount: 1)
            try await RedisTestServer.withClient(configuration) { client in
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingTaskGroup(of: RedisReply.self) { group in
                    for _ in 0..<2 {
                        let key = RedisTestServer.key()
                        group.addTask { try await client.command(["BLPOP", RedisArgument(key), "0.2"]) }
                    }
                    for try await reply in group {
                        #expect(reply == .null)
                    }
                }
                // Two connections, but one thread: the second BLPOP waited for the first.
                #expect((clock.now - start).seconds >= 0.35)
            }
        }
    }
}
