import NIOConcurrencyHelpers
import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Scripts {
        static let echo = RedisScript("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")

        @Test func evaluatesWithEvalSHA() async throws {
            try await RedisTestServer.withClient { client in
                let key = RedisTestServer.key()
                let first = try await client.evaluate(Self.echo, keys: [RedisArgument(key)], arguments: ["a"])
                #expect(first == .array([.string(Array(key.utf8)), .string(Array("a".utf8)), .integer(1)]))
                let hash = try #require(client.scriptHashes.withLockedValue { $0[Self.echo.source] })
                #expect(hash.count == 40)
                let second = try await client.evaluate(
                    Self.echo, keys: [RedisArgument(key)], arguments: [RedisArgument([0, 255])])
                #expect(second.arrayValue?[1] == .string([0, 255]))
                #expect(second.arrayValue?[2] == .integer(2))
                try await client.delete(key)
            }
        }

        /// Needs the serialized parent suite: SCRIPT FLUSH empties the server's script cache for every client.
        @Test func reloadsAfterScriptFlush() async throws {
            try await RedisTestServer.withClient { client in
                let key = RedisTestServer.key()
                _ = try await client.evaluate(Self.echo, keys: [RedisArgument(key)], arguments: ["a"])
                let hash = try #require(client.scriptHashes.withLockedValue { $0[Self.echo.source] })
                #expect(try await client.command(["SCRIPT", "FLUSH"]) == .status("OK"))
                #expect(try await client.command(["SCRIPT", "EXISTS", hash]) == .array([.integer(0)]))

                // EVALSHA gets NOSCRIPT; the client loads the script again and retries.
                let reply = try await client.evaluate(Self.echo, keys: [RedisArgument(key)], arguments: ["b"])
                #expect(reply.arrayValue?[2] == .integer(2))
                #expect(try await client.command(["SCRIPT", "EXISTS", hash]) == .array([.integer(1)]))
                try await client.delete(key)
            }
        }

        @Test func scriptErrorIsAServerError() async throws {
            try await RedisTestServer.withClient { client in
                let failing = RedisScript("return redis.call('NOSUCHCOMMAND')")
                let error = try #require(
                    await redisError { try await client.evaluate(failing, keys: [], arguments: []) })
                #expect(error.code == .server)
                #expect(error.serverMessage?.isEmpty == false)
                let broken = RedisScript("this is not lua")
                #expect(
                    await redisError { try await client.evaluate(broken, keys: [], arguments: []) }?.code == .server)
                try await client.ping()
            }
        }
    }
}
