import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Commands {
        @Test func binarySafeRoundTrips() async throws {
            try await RedisTestServer.withClient { client in
                let allBytes = (0...255).map { UInt8($0) }
                // Binary keys too: a NUL and 0xFF in the key must not cut it short.
                let key = RedisArgument(Array(RedisTestServer.key().utf8) + [0, 0xFF, 0x0D, 0x0A])
                try await client.set(key, RedisArgument(allBytes + allBytes.reversed()))
                #expect(try await client.get(key) == allBytes + allBytes.reversed())

                let empty = RedisArgument(RedisTestServer.key())
                try await client.set(empty, RedisArgument([UInt8]()))
                #expect(try await client.get(empty) == [])

                var generator = SystemRandomNumberGenerator()
                let large = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let largeKey = RedisArgument(RedisTestServer.key())
                try await client.set(largeKey, RedisArgument(large), expiration: .seconds(60))
                #expect(try await client.get(largeKey) == large)

                #expect(try await client.get(RedisTestServer.key()) == nil)
                #expect(try await client.delete([key, empty, largeKey]) == 3)
            }
        }

        @Test func replyTypes() async throws {
            try await RedisTestServer.withClient { client in
                let counter = RedisTestServer.key()
                let list = RedisTestServer.key()
                #expect(try await client.command(["SET", counter, "40"]) == .status("OK"))
                #expect(try await client.command(["INCRBY", counter, "2"]) == .integer(42))
                #expect(try await client.command(["GET", counter]).intValue == 42)
                #expect(try await client.command(["RPUSH", list, "a", "", "c"]) == .integer(3))
                #expect(
                    try await client.command(["LRANGE", list, "0", "-1"])
                        == .array([.string(Array("a".utf8)), .string([]), .string(Array("c".utf8))])
                )
                #expect(try await client.command(["LRANGE", RedisTestServer.key(), "0", "-1"]) == .array([]))
                #expect(try await client.command(["GET", RedisTestServer.key()]) == .null)
                #expect(try await client.command(["EXISTS", counter, list, RedisTestServer.key()]) == .integer(2))
                try await client.ping()
                #expect(try await client.delete(counter, list) == 2)
            }
        }

        @Test func serverErrorIsThrownWithItsMessage() async throws {
            try await RedisTestServer.withClient { client in
                let key = RedisTestServer.key()
                try await client.set(key, "a string")
                let error = try #require(await redisError { try await client.command(["LPUSH", key, "x"]) })
                #expect(error.code == .server)
                #expect(error.serverMessage?.hasPrefix("WRONGTYPE") == true)
                #expect(error.description.contains("WRONGTYPE"))

                // Redis quotes unknown commands' arguments; the description must not.
                let unknown = try #require(
                    await redisError { try await client.command(["NOSUCHCOMMAND", "alice@example.com"]) }
                )
                #expect(unknown.code == .server)
                #expect(!unknown.description.contains("alice"))

                // An error reply leaves the connection usable: no new one is opened.
                #expect(try await client.get(key) == Array("a string".utf8))
                #expect(client.statistics.open == 1)
                #expect(await redisError { try await client.command([RedisArgument]()) }?.code == .invalidArgument)
                try await client.delete(key)
            }
        }

        @Test func expirationsOutsideWhatRedisTakesAreRefusedBeforeSending() async throws {
            let key = RedisTestServer.key()
            try await RedisTestServer.withClient { client in
                for expiration in [Duration.zero, .microseconds(999), .seconds(-5), .seconds(Int64.max)] {
                    let error = await redisError { try await client.set(key, "v", expiration: expiration) }
                    #expect(error?.code == .invalidArgument, "\(expiration)")
                }
                #expect(try await client.get(key) == nil, "nothing was set")
                try await client.set(key, "v", expiration: .milliseconds(1500) + .microseconds(999))
                let remaining = try await client.command(["PTTL", RedisArgument(key)]).intValue
                #expect((1...1500).contains(try #require(remaining)), "whole milliseconds, rounded down (PX 1500)")
                try await client.set(key, "v", expiration: Redis.RedisClient.longestExpiration)
                #expect(try await client.command(["PTTL", RedisArgument(key)]).intValue ?? 0 > 8_999_000_000_000)
                try await client.delete(key)
            }
        }

        @Test func selectsTheConfiguredDatabase() async throws {
            let key = RedisTestServer.key()
            try await RedisTestServer.withClient(try RedisTestServer.configuration(database: 1)) { client in
                try await client.set(key, "in db 1", expiration: .seconds(30))
                #expect(try await client.command(["CLIENT", "INFO"]).stringValue?.contains(" db=1 ") == true)
            }
            let inDatabaseZero = try await RedisTestServer.withClient(try RedisTestServer.configuration(database: 0)) {
                client in
                try await client.get(key)
            }
            #expect(inDatabaseZero == nil)
        }

        @Test func failedAuthenticationDoesNotShowThePassword() async throws {
            try await RedisTestServer.withClient(try RedisTestServer.configuration(password: "hunter2-wrong")) {
                client in
                let error = try #require(await redisError { try await client.ping() })
                #expect(error.code == .connectionFailed)
                #expect(error.serverMessage != nil)
                #expect(!error.description.contains("hunter2"))
                #expect(client.statistics.open == 0)
            }
        }

        @Test func info() async throws {
            try await RedisTestServer.withClient { client in
                let server = try await client.info(section: "server")
                #expect(server["redis_version"]?.isEmpty == false)
                #expect(try await client.info()["connected_clients"] != nil)
            }
        }
    }
}
