import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Timeouts {
        @Test func timedOutConnectionIsDiscarded() async throws {
            try await RedisTestServer.withClient(
                try RedisTestServer.configuration(poolSize: 1, commandTimeout: .milliseconds(200))
            ) { client in
                let key = RedisTestServer.key()
                let before = try await client.command(["CLIENT", "ID"])

                let clock = ContinuousClock()
                let start = clock.now
                let error = await redisError { try await client.command(["BLPOP", RedisArgument(key), "5"]) }
                let elapsed = clock.now - start
                #expect(error?.code == .timeout)
                // BLPOP asked for 5 s: ending well before that shows the command timeout acted (a gross bound only).
                #expect(elapsed.seconds >= 0.15 && elapsed.seconds < 4.5, "took \(elapsed)")
                #expect(client.statistics.open == 0)

                // Had the connection been kept, the server would still hold its BLPOP and pop this value, and
                // the late BLPOP reply would be read as the answer to RPUSH.
                #expect(try await client.command(["RPUSH", key, "v"]) == .integer(1))
                #expect(try await client.command(["LRANGE", key, "0", "-1"]) == .array([.string(Array("v".utf8))]))
                #expect(try await client.command(["CLIENT", "ID"]) != before)
                try await client.delete(key)
            }
        }

        @Test func timeoutInAPipelineDiscardsTheConnection() async throws {
            try await RedisTestServer.withClient(
                try RedisTestServer.configuration(poolSize: 1, commandTimeout: .milliseconds(200))
            ) { client in
                let key = RedisTestServer.key()
                let error = await redisError {
                    try await client.pipeline([["PING"], ["BLPOP", RedisArgument(key), "5"], ["PING"]])
                }
                #expect(error?.code == .timeout)
                #expect(client.statistics.open == 0)
                try await client.ping()
            }
        }
    }
}
