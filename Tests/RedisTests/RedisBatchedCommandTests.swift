import Testing

@testable import Redis

extension RedisServerTests {
    @Suite struct BatchedCommands {
        @Test func concurrentCommandsEachGetTheirOwnReply() async throws {
            try await RedisTestServer.withClient { client in
                let counter = RedisArgument(RedisTestServer.key())
                let replies = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<500 {
                        group.addTask { try await client.batchedCommand(["INCR", counter]).intValue ?? -1 }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(replies.sorted() == Array(1...500), "every INCR answered once, with its own reply")
                #expect(try await client.get(counter) == Array("500".utf8))
                _ = try await client.delete([counter])
            }
        }

        @Test func anErrorReplyFailsOnlyItsOwnCommand() async throws {
            // A minute per reply: a command that timed out would count as neither outcome, and in a full parallel
            // run on two cores replies have taken more than the default 10 s.
            try await RedisTestServer.withClient(try RedisTestServer.configuration(commandTimeout: .seconds(60))) {
                client in
                let list = RedisArgument(RedisTestServer.key())
                _ = try await client.command(["RPUSH", list, "x"])
                let outcomes = await withTaskGroup(of: Bool.self) { group in
                    for index in 0..<100 {
                        group.addTask {
                            // Every tenth is a GET of a list: WRONGTYPE.
                            let key = index % 10 == 0 ? list : RedisArgument(RedisTestServer.key())
                            do throws(RedisError) {
                                _ = try await client.batchedCommand(["GET", key])
                                return true
                            } catch {
                                return !(error.code == .server && error.serverErrorCode == "WRONGTYPE")
                            }
                        }
                    }
                    return await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { !$0 }.count == 10)
                await #expect(throws: RedisError.self) { try await client.batchedCommand([]) }
                _ = try await client.delete([list])
            }
        }

        @Test func scriptsRunBatchedAndReloadAfterAFlush() async throws {
            try await RedisTestServer.withClient { client in
                let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
                let key = RedisArgument(RedisTestServer.key())
                let replies = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<50 {
                        group.addTask {
                            try await client.batchedEvaluate(script, keys: [key], arguments: ["2"]).intValue ?? -1
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(replies.sorted() == Array(stride(from: 2, through: 100, by: 2)))
                _ = try await client.command(["SCRIPT", "FLUSH"])
                #expect(try await client.batchedEvaluate(script, keys: [key], arguments: ["1"]) == .integer(101))
                _ = try await client.delete([key])
            }
        }
    }
}
