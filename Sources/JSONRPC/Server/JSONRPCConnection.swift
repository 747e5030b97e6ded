import Logging
import NIOCore
import ServiceLifecycle

/// Serves one connection (a socket client, or stdin and stdout): runs the work its pipeline could not finish as
/// it arrived (``FrameInboxHandler`` answers synchronous methods and malformed messages itself), answers each
/// request when it is ready, and keeps at most `maximumInFlight` requests running at once.
///
/// When the limit is reached the connection simply stops taking frames; the channel's inbound buffer then fills
/// and SwiftNIO stops reading from the socket, so the client is slowed down rather than refused. On graceful
/// shutdown it stops reading, lets the requests in flight finish and write their responses, then closes.
struct JSONRPCConnection {
    let connection: JSONRPCConnectionChannel
    let router: JSONRPCRouter
    let maximumInFlight: Int
    let logger: Logger

    func run() async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(connection.channel.eventLoop)) {
            await serve()
        }
    }

    private func serve() async {
        let channel = connection.channel
        do {
            let slots = AsyncSemaphore(value: maximumInFlight)
            try await withThrowingDiscardingTaskGroup { group in
                // On graceful shutdown the inbox ends and reading stops: the loop below then sees the end of the
                // input, while the requests in flight go on and write their responses. The input is not closed:
                // that would hand a line still arriving to the decoder as the input's last message, and answer
                // the client's cut-off request with a parse error.
                try await withGracefulShutdownHandler {
                    try await readFrames(into: &group, slots: slots)
                } onGracefulShutdown: {
                    connection.inbox.finish()
                }
            }
        } catch is CancellationError {
            logger.debug("connection cancelled")
        } catch {
            logger.debug("connection closed with an error", metadata: ["error": .string(String(describing: error))])
        }
        // Every request has answered (the group waited for them), but answers written without waiting may still be
        // queued in the channel, and closing it would fail them, cutting an answer short. A channel completes its
        // writes in order, so an empty write completes after all of them. A peer that takes nothing for
        // `drainTimeout` is given up on: the close then fails what is left.
        let drained = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(ByteBuffer(), promise: drained)
        let giveUp = channel.eventLoop.scheduleTask(in: Self.drainTimeout) { channel.close(promise: nil) }
        try? await drained.futureResult.get()
        giveUp.cancel()
        try? await channel.close()
    }

    /// How long a closing connection waits for the peer to take the answers already written.
    static let drainTimeout = TimeAmount.seconds(10)

    private func readFrames(into group: inout ThrowingDiscardingTaskGroup<any Error>, slots: AsyncSemaphore)
        async throws
    {
        let allocator = connection.channel.allocator
        while let work = try await connection.inbox.next() {
            try await slots.wait()
            var closeAfterwards = false
            if case .refused(_, _, let closes) = work { closeAfterwards = closes }
            group.addTask {
                defer { slots.signal() }
                switch work {
                case .pending(let message, let framing):
                    // Returns when the message's handlers have: one answered at its deadline keeps its slot until
                    // then.
                    await router.respond(to: message) { response in
                        await write(framing.frame(response, allocator: allocator))
                    }
                case .refused(let error, let framing, _):
                    await write(framing.frame(router.errorResponse(error), allocator: allocator))
                case .response(let buffer):
                    await write(buffer)
                }
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
        let channel = connection.channel
        if channel.isWritable {
            channel.writeAndFlush(buffer, promise: nil)
        } else {
            try? await channel.writeAndFlush(buffer).get()
        }
    }
}
