import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct Pipelines {
        @Test func manyCommandsWithAnErrorInTheMiddle() async throws {
            try await RedisTestServer.withClient { client in
                let prefix = RedisTestServer.key()
                let count = 1000
                var commands: [[RedisArgument]] = [["CLIENT", "ID"]]
                for index in 0..<count {
                    commands.append(["SET", RedisArgument("\(prefix):\(index)"), RedisArgument(index)])
                }
                // LPUSH on a string key: WRONGTYPE, for this command only.
                commands.append(["LPUSH", RedisArgument("\(prefix):0"), "x"])
                for index in 0..<count {
                    commands.append(["GET", RedisArgument("\(prefix):\(index)")])
                }
                commands.append(["CLIENT", "ID"])

                let results = try await client.pipeline(commands)
                #expect(results.count == commands.count)
                // The same connection answered everything: the commands went out together.
                #expect(try results.first?.get() == results.last.flatMap { try? $0.get() })
                for index in 0..<count {
                    #expect(try results[1 + index].get() == .status("OK"))
                    #expect(try results[2 + count + index].get().intValue == index)
                }
                guard case .failure(let error) = results[1 + count] else {
                    Issue.record("expected the LPUSH to fail")
                    return
                }
                #expect(error.code == .server && error.serverMessage?.hasPrefix("WRONGTYPE") == true)

                #expect(try await client.pipeline([[RedisArgument]]()).isEmpty)
                // An empty command is refused before anything is sent, so nothing is left queued on the connection.
                let invalid = await redisError { try await client.pipeline([["PING"], [], ["PING"]]) }
                #expect(invalid?.code == .invalidArgument)
                #expect(try await client.command(["ECHO", "next"]) == .string(Array("next".utf8)))
                let deleted = try await client.delete((0..<count).map { RedisArgument("\(prefix):\($0)") })
                #expect(deleted == count)
            }
        }

        @Test func stringOverload() async throws {
            try await RedisTestServer.withClient { client in
                let key = RedisTestServer.key()
                let results = try await client.pipeline([["SET", key, "v"], ["GET", key], ["DEL", key]])
                #expect(try results.map { try $0.get() } == [.status("OK"), .string(Array("v".utf8)), .integer(1)])
            }
        }
    }
}
