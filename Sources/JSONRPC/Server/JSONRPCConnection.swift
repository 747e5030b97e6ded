import Logging
import NIOCore
import ServiceLifecycle

/// Serves one connection (a socket client, or stdin and stdout): reads frames, answers each request when it is
/// ready, and keeps at most `maximumInFlight` requests running at once.
///
/// When the limit is reached the connection simply stops taking frames; the channel's inbound buffer then fills
/// and SwiftNIO stops reading from the socket, so the client is slowed down rather than refused. On graceful
/// shutdown it stops reading, lets the requests in flight finish and write their responses, then closes.
struct JSONRPCConnection {
    let channel: NIOAsyncChannel<JSONRPCFrame, ByteBuffer>
    let router: JSONRPCRouter
    let maximumInFlight: Int
    let logger: Logger

    func run() async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(channel.channel.eventLoop)) {
            await serve()
        }
    }

    private func serve() async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                let slots = AsyncSemaphore(value: maximumInFlight)
                try await withThrowingDiscardingTaskGroup { group in
                    // On graceful shutdown the input side is closed: the loop below then sees the end of the
                    // stream, while the requests in flight go on and write their responses. (Wrapping the stream
                    // in cancelOnGracefulShutdown() would route every frame through an extra task.)
                    try await withGracefulShutdownHandler {
                        try await readFrames(inbound, into: &group, slots: slots, outbound: outbound)
                    } onGracefulShutdown: {
                        channel.channel.close(mode: .input, promise: nil)
                    }
                }
            }
        } catch is CancellationError {
            logger.debug("connection cancelled")
        } catch {
            logger.debug("connection closed with an error", metadata: ["error": .string(String(describing: error))])
        }
    }

    private func readFrames(
        _ inbound: NIOAsyncChannelInboundStream<JSONRPCFrame>,
        into group: inout ThrowingDiscardingTaskGroup<any Error>,
        slots: AsyncSemaphore,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws {
        let allocator = channel.channel.allocator
        for try await frame in inbound {
            try await slots.wait()
            let closeAfterwards: Bool
            if case .unrecoverable = frame.kind { closeAfterwards = true } else { closeAfterwards = false }
            group.addTask {
                defer { slots.signal() }
                guard let response = await respond(to: frame) else { return }
                await write(frame.framing.frame(response, allocator: allocator))
            }
            if closeAfterwards { break }
        }
    }

    /// Writes a response straight to the channel (the task runs on its event loop, so this is a direct write).
    ///
    /// While the peer is not reading and the channel is not writable, the request's slot is held until its response
    /// has left: at most `maximumInFlight` responses then wait in memory, and reading stops. A client that went away
    /// cannot be answered; its other requests still finish.
    private func write(_ buffer: ByteBuffer) async {
        let channel = self.channel.channel
        if channel.isWritable {
            channel.writeAndFlush(buffer, promise: nil)
        } else {
            try? await channel.writeAndFlush(buffer).get()
        }
    }

    private func respond(to frame: JSONRPCFrame) async -> [UInt8]? {
        switch frame.kind {
        case .message(let message):
            return await router.respond(to: message)
        case .tooLarge(let limit):
            return router.errorResponse(.messageTooLarge(limit: limit))
        case .unrecoverable(let reason):
            return router.errorResponse(.parseError(reason))
        }
    }
}
