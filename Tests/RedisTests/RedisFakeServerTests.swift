import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import Redis

/// A stand-in for Redis on a Unix socket that answers every `PING` in a scripted, broken way: what a real server
/// never does, but a connection must survive.
private final class FakeRedis: Sendable {
    enum Behaviour: Sendable {
        /// Bytes that are not RESP.
        case unreadable
        /// The right reply, then one more that nobody asked for.
        case extraReply
        /// A bulk string, one byte per write.
        case dribble(String)
        /// Closes the connection instead of answering.
        case hangUp
    }

    let path: String
    private let channel: any Channel
    private let connections = NIOLockedValueBox(0)

    var connectionsAccepted: Int { connections.withLockedValue { $0 } }

    init(_ behaviour: Behaviour) async throws {
        let path = "/tmp/jules-fake-redis-\(UUID().uuidString.prefix(8)).sock"
        self.path = path
        let connections = self.connections
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(behaviour: behaviour))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
    }

    func stop() async throws {
        try await channel.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The timeout is generous: these tests are about what a reply does to the connection, not about time, and in a
    /// full parallel run on two cores the shared event loops can take seconds to get to a dribbled reply.
    func client(commandTimeout: Duration = .seconds(30)) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: "unix://\(path)")
        configuration.commandTimeout = commandTimeout
        return RedisClient(configuration: configuration, logger: RedisTestServer.logger)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let behaviour: Behaviour
        var received = ""
        var answered = 0

        init(behaviour: Behaviour) {
            self.behaviour = behaviour
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            let commands = received.components(separatedBy: "PING").count - 1
            while answered < commands {
                answered += 1
                answer(context)
            }
        }

        private func answer(_ context: ChannelHandlerContext) {
            func send(_ text: String) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            }
            switch behaviour {
            case .unreadable: send("!!! not a reply\r\n")
            case .extraReply: send("+PONG\r\n+EXTRA\r\n")
            case .dribble(let text):
                for character in "$\(text.utf8.count)\r\n\(text)\r\n" { send(String(character)) }
            case .hangUp: context.close(promise: nil)
            }
        }
    }
}

/// How the event loops' connections handle a server that misbehaves.
@Suite struct RedisEventLoopConnectionFaultTests {
    @Test func anUnreadableReplyFailsTheCommandAndTheNextOneUsesANewConnection() async throws {
        let server = try await FakeRedis(.unreadable)
        let client = try server.client()
        let first = await redisError { try await client.batchedCommand(["PING"]) }
        #expect(first?.code == .protocolError)
        let second = await redisError { try await client.batchedCommand(["PING"]) }
        #expect(second?.code == .protocolError)
        #expect(server.connectionsAccepted == 2, "the connection that read garbage was not used again")
        await client.shutdown()
        try await server.stop()
    }

    @Test func aReplyNobodyAskedForClosesTheConnection() async throws {
        let server = try await FakeRedis(.extraReply)
        let client = try server.client()
        #expect(try await client.batchedCommand(["PING"]) == .status("PONG"))
        // The extra reply closes that connection (as it arrives, or when the next reply would be misread).
        var opened = 1
        for _ in 0..<3 {
            _ = await redisError { try await client.batchedCommand(["PING"]) }
            opened = server.connectionsAccepted
        }
        #expect(opened >= 2, "a connection that got a reply it did not ask for is replaced")
        await client.shutdown()
        try await server.stop()
    }

    @Test func aReplySplitAcrossManyReadsIsPutBackTogether() async throws {
        let text = "split into seventeen reads and more"
        let server = try await FakeRedis(.dribble(text))
        let client = try server.client()
        async let first = client.batchedCommand(["PING"])
        async let second = client.batchedCommand(["PING"])
        let replies = try await [first, second]
        #expect(replies == [.string(Array(text.utf8)), .string(Array(text.utf8))])
        #expect(try await client.batchedCommand(["PING"]) == .string(Array(text.utf8)))
        // Callers off the loops are spread over the loops' connections; none was replaced.
        #expect(server.connectionsAccepted <= System.coreCount)
        await client.shutdown()
        try await server.stop()
    }

    @Test func aServerThatHangsUpFailsTheCommandsWaitingOnIt() async throws {
        let server = try await FakeRedis(.hangUp)
        let client = try server.client()
        let errors = await withTaskGroup(of: RedisError?.self) { group in
            for _ in 0..<3 {
                group.addTask { await redisError { try await client.batchedCommand(["PING"]) } }
            }
            return await group.reduce(into: [RedisError?]()) { $0.append($1) }
        }
        for error in errors {
            #expect(error?.code == .connectionClosed)
        }
        await client.shutdown()
        try await server.stop()
    }
}
