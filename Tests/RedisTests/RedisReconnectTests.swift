import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Reconnect {
        @Test(.enabled(if: RedisTestServer.canRestart, "set JULES_TEST_SERVICES to let the tests restart Redis"))
        func survivesAServerRestart() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(poolSize: 3)) { client in
                let script = RedisScript("return ARGV[1]")
                #expect(
                    try await client.evaluate(script, keys: [], arguments: ["before"]) == .string(Array("before".utf8)))
                try await Self.useEveryConnection(client)
                #expect(client.statistics.open == 3)

                try await RedisTestServer.restart()

                // The very first call succeeds: the dead idle connections are noticed before reuse.
                try await client.ping()
                try await Self.useEveryConnection(client)
                // The restarted server forgot the script: NOSCRIPT, reload, retry.
                #expect(
                    try await client.evaluate(script, keys: [], arguments: ["after"]) == .string(Array("after".utf8)))
                #expect(client.statistics.open <= 3)
            }
        }

        @Test func survivesClientKillOfAPooledConnection() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(poolSize: 1)) { client in
                try await RedisTestServer.withClient { admin in
                    let id = try #require(try await client.command(["CLIENT", "ID"]).intValue)
                    #expect(try await admin.command(["CLIENT", "KILL", "ID", RedisArgument(id)]) == .integer(1))

                    try await client.ping()
                    #expect(try await client.command(["CLIENT", "ID"]).intValue != id)
                    #expect(client.statistics.open == 1)
                }
            }
        }

        /// Runs one slow command per connection at once, so that all of the pool's connections are open.
        private static func useEveryConnection(_ client: RedisClient) async throws {
            try await withThrowingTaskGroup(of: RedisReply.self) { group in
                for _ in 0..<client.configuration.poolSize {
                    let key = RedisTestServer.key()
                    group.addTask { try await client.command(["BLPOP", RedisArgument(key), "0.1"]) }
                }
                for try await reply in group {
                    #expect(reply == .null)
                }
            }
        }
    }
}
