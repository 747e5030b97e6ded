#if canImport(Glibc)
    import Glibc
#endif
import JSONRPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs servers and clients for the socket and stdio tests.
enum ServerTestSupport {
    /// A fresh private folder under /tmp (short, so socket paths stay under the OS limit).
    static func temporaryFolder() -> String {
        var template = Array("/tmp/jules-test-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(path != nil, "mkdtemp failed")
        return String(cString: path!)
    }

    /// Runs a socket server around `body`, then shuts it down gracefully and waits for it to stop.
    static func withSocketServer(
        _ configuration: UnixSocketServer.Configuration,
        router: JSONRPCRouter = TestSupport.router(),
        _ body: @Sendable (String) async throws -> Void
    ) async throws {
        let (listening, listeningContinuation) = AsyncStream<Void>.makeStream()
        let server = UnixSocketServer(
            configuration: configuration,
            router: router,
            logger: TestSupport.logger,
            onListening: { listeningContinuation.yield() }
        )
        let group = ServiceGroup(services: [server], logger: TestSupport.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = listening.makeAsyncIterator()
            _ = await iterator.next()
            do {
                try await body(configuration.path)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Runs `work` in a task of its own and waits for it at most `limit`: whether it finished in time (then its
    /// error, if any, is thrown). A task still running is left behind, so that a server that never stops fails
    /// the test instead of hanging it.
    static func finishes(
        within limit: Duration = .seconds(60), _ work: @escaping @Sendable () async throws -> Void
    ) async throws -> Bool {
        let (finished, finishedSignal) = AsyncStream<Void>.makeStream()
        let running = Task {
            defer { finishedSignal.yield() }
            try await work()
        }
        let inTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in finished { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if inTime { try await running.value }
        return inTime
    }

    typealias ClientChannel = NIOAsyncChannel<JSONRPCFrame, ByteBuffer>

    /// Connects a line-reading client.
    static func connect(_ path: String) async throws -> ClientChannel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(NewlineDelimitedFrameDecoder(maximumMessageBytes: 64 << 20))
                    )
                    return try ClientChannel(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Sends `lines` on one connection and reads `count` responses, parsed.
    static func exchange(_ path: String, lines: [String], expecting count: Int) async throws -> [JSONValue] {
        let channel = try await connect(path)
        return try await channel.executeThenClose { inbound, outbound in
            for line in lines {
                try await outbound.write(ByteBuffer(string: line + "\n"))
            }
            var responses: [JSONValue] = []
            var iterator = inbound.makeAsyncIterator()
            while responses.count < count, let frame = try await iterator.next() {
                guard case .message(let buffer) = frame.kind else { continue }
                responses.append(try JSONParser.parse(Array(buffer.readableBytesView)))
            }
            return responses
        }
    }
}
