import NIOCore
import NIOPosix
import Testing

@testable import Redis

extension RedisServerTests {
    /// `batchedCommand` on the event loops' own connections.
    @Suite struct EventLoopConnections {
        /// Runs `body` with a client whose loop connections belong to a group of `loops` loops of its own.
        private static func withLoopClient<Value>(
            loops: Int = 2,
            _ configuration: RedisConfiguration? = nil,
            _ body: (RedisClient, MultiThreadedEventLoopGroup) async throws -> Value
        ) async throws -> Value {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
            let client = RedisClient(
                configuration: try configuration ?? RedisTestServer.configuration(),
                logger: RedisTestServer.logger,
                eventLoopGroup: group
            )
            do {
                let value = try await body(client, group)
                await client.shutdown()
                try await group.shutdownGracefully()
                return value
            } catch {
                await client.shutdown()
                try await group.shutdownGracefully()
                throw error
            }
        }

        @Test func callersOnEveryLoopGetTheirOwnRepliesOverOneConnectionPerLoop() async throws {
            try await Self.withLoopClient(loops: 2) { client, group in
                let counter = RedisArgument(RedisTestServer.key())
                let loops = Array(group.makeIterator())
                let replies = try await withThrowingTaskGroup(of: Int.self) { tasks in
                    for index in 0..<400 {
                        // Each task runs on a loop, as a JSON-RPC request does.
                        let executor = LoopExecutor(loops[index % 2])
                        tasks.addTask(executorPreference: executor) {
                            try await client.batchedCommand(["INCR", counter]).intValue ?? -1
                        }
                    }
                    // And some from off the loops.
                    for _ in 0..<20 {
                        tasks.addTask { try await client.batchedCommand(["INCR", counter]).intValue ?? -1 }
                    }
                    return try await tasks.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(replies.sorted() == Array(1...420), "every INCR answered once, with its own reply")
                #expect(client.connectionsOpened == 2, "one connection per loop, opened once")
                _ = try await client.command(["DEL", counter])
            }
        }

        @Test func aTimedOutCommandClosesItsConnectionAndTheNextOneOpensAnother() async throws {
            // Long enough that the PING is surely sent behind the BLPOP on a loaded machine (200 ms was not).
            let configuration = try RedisTestServer.configuration(commandTimeout: .seconds(1))
            try await Self.withLoopClient(loops: 1, configuration) { client, _ in
                let key = RedisArgument(RedisTestServer.key())
                let before = try await client.batchedCommand(["CLIENT", "ID"])
                // A blocking command does not belong here; it is the simplest way to make Redis not answer.
                async let blocked = redisError { try await client.batchedCommand(["BLPOP", key, "5"]) }
                async let behind = redisError { try await client.batchedCommand(["PING"]) }
                let (blockedError, behindError) = await (blocked, behind)
                #expect(blockedError?.code == .timeout)
                #expect(behindError?.code == .timeout, "a command behind it on the same connection fails with it")
                // Had the connection been kept, its BLPOP would pop this value and answer the RPUSH.
                #expect(try await client.batchedCommand(["RPUSH", key, "v"]) == .integer(1))
                #expect(try await client.batchedCommand(["LRANGE", key, "0", "-1"]) == .array([.string([118])]))
                #expect(try await client.batchedCommand(["CLIENT", "ID"]) != before)
                _ = try await client.command(["DEL", key])
            }
        }

        @Test func aConnectionTheServerClosedIsReplaced() async throws {
            try await Self.withLoopClient(loops: 1) { client, _ in
                let id = try #require(try await client.batchedCommand(["CLIENT", "ID"]).intValue)
                #expect(try await client.command(["CLIENT", "KILL", "ID", RedisArgument(id)]) == .integer(1))
                // The close may or may not have been read before the next command goes out; the one after it
                // is on a new connection either way.
                if let error = await redisError({ try await client.batchedCommand(["PING"]) }) {
                    #expect(error.code == .connectionClosed)
                }
                let next = try #require(try await client.batchedCommand(["CLIENT", "ID"]).intValue)
                #expect(next != id)
            }
        }

        @Test func theDatabaseIsSelectedWhenTheConnectionOpens() async throws {
            let configuration = try RedisTestServer.configuration(database: 3)
            try await Self.withLoopClient(loops: 1, configuration) { client, _ in
                let key = RedisArgument(RedisTestServer.key())
                _ = try await client.batchedCommand(["SET", key, "in three"])
                #expect(try await client.command(["GET", key]) == .string(Array("in three".utf8)))
                let inZero = try await RedisTestServer.withClient { try await $0.command(["GET", key]) }
                #expect(inZero == .null)
                _ = try await client.command(["DEL", key])
            }
        }

        @Test func aFailedSetUpFailsTheCommandsWaitingForIt() async throws {
            // The test server has no password: AUTH is refused, so the connection is never ready.
            let configuration = try RedisTestServer.configuration(password: "not-the-password")
            try await Self.withLoopClient(loops: 1, configuration) { client, _ in
                let errors = await withTaskGroup(of: RedisError?.self) { tasks in
                    for _ in 0..<5 {
                        tasks.addTask { await redisError { try await client.batchedCommand(["PING"]) } }
                    }
                    return await tasks.reduce(into: [RedisError?]()) { $0.append($1) }
                }
                #expect(errors.count == 5)
                for error in errors {
                    #expect(error?.code == .connectionFailed)
                    #expect(error?.message.contains("could not set up a connection") == true)
                    #expect(error?.description.contains("not-the-password") == false)
                }
            }
        }

        /// A server that takes the connection and drops it during the set-up: the commands waiting for the set-up
        /// were never sent, and say so (`connectionFailed`), unlike a command lost after it went out.
        @Test func commandsWaitingForASetUpThatEndsWereNotSent() async throws {
            let path = "/tmp/jules-redis-test-\(UInt32.random(in: 0...UInt32.max)).sock"
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CloseWhenSpokenTo())
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
                .get()
            let configuration = try RedisConfiguration(url: "unix://:secret@" + path)
            try await Self.withLoopClient(loops: 1, configuration) { client, _ in
                let error = await redisError { try await client.batchedCommand(["SET", "k", "v"]) }
                #expect(error?.code == .connectionFailed, "\(String(describing: error))")
                #expect(error?.message.contains("during its set-up") == true)
            }
            try await server.close()
        }

        @Test func anUnreachableServerFailsTheCommandNamingIt() async throws {
            let configuration = try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock")
            try await Self.withLoopClient(loops: 1, configuration) { client, _ in
                let error = await redisError { try await client.batchedCommand(["PING"]) }
                #expect(error?.code == .connectionFailed)
                #expect(error?.description.contains("/tmp/jules-no-such-dir/redis.sock") == true)
                #expect(client.statistics.open == 0)
            }
        }

        @Test func commandsAfterShutdownFail() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let client = RedisClient(
                configuration: try RedisTestServer.configuration(),
                logger: RedisTestServer.logger,
                eventLoopGroup: group
            )
            #expect(try await client.batchedCommand(["PING"]) == .status("PONG"))
            await client.shutdown()
            let error = await redisError { try await client.batchedCommand(["PING"]) }
            #expect(error?.code == .shutDown)
            #expect(client.statistics.open == 0, "the loop's connection is closed")
            try await group.shutdownGracefully()
        }
    }
}

/// Runs tasks on one event loop, as the JSON-RPC servers run each connection's requests.
private final class LoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Stands in for a server that dies as soon as it is spoken to: closes the connection on its first bytes.
private final class CloseWhenSpokenTo: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}
