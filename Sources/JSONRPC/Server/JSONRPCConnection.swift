import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

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
    /// Once the input has ended (the peer's end of input, or graceful shutdown), how long the peer may take nothing
    /// of what is written before the connection is closed on it. Without this bound a peer that stopped reading
    /// would hold the answers waiting to be written, and with them the shutdown, for ever.
    var drainTimeout: TimeAmount = .seconds(10)

    func run() async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(connection.channel.eventLoop)) {
            await serve()
        }
    }

    private func serve() async {
        let channel = connection.channel
        let watchdog = DrainWatchdog()
        // Once the input has ended, the answers still to come must not wait for ever on a peer that takes nothing
        // (the reader may then still be waiting for a place among the requests in flight, held by such answers).
        let drainTimeout = self.drainTimeout
        connection.inbox.whenFinished { watchdog.start(on: channel, every: drainTimeout) }
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
        // `drainTimeout` is given up on: the close then fails what is left. (Not the watchdog's test: what is left
        // may be below the channel's high watermark, so the channel looks writable while nothing leaves.)
        let drained = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(ByteBuffer(), promise: drained)
        let giveUp = channel.eventLoop.scheduleTask(in: drainTimeout) { channel.close(promise: nil) }
        try? await drained.futureResult.get()
        giveUp.cancel()
        watchdog.stop()
        try? await channel.close()
    }

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
            // A write's completion does not heed cancellation: when the task is cancelled (the server gives up on
            // its shutdown), the channel is closed, which fails the write and ends the wait.
            await withTaskCancellationHandler {
                try? await channel.writeAndFlush(buffer).get()
            } onCancel: {
                channel.close(promise: nil)
            }
        }
    }
}

/// Closes a connection whose peer has stopped taking what is written, once its input has ended: a channel found not
/// writable (answers wait for the peer) at two looks in a row, half the timeout apart, is closed, which fails the
/// writes that wait.
final class DrainWatchdog: Sendable {
    private struct State {
        var task: Scheduled<Void>?
        var stopped = false
    }

    private let state = Mutex(State())

    /// Starts looking (once; later calls do nothing).
    func start(on channel: any Channel, every timeout: TimeAmount) {
        state.withLock { state in
            guard state.task == nil, !state.stopped else { return }
            state.task = schedule(on: channel, in: .nanoseconds(timeout.nanoseconds / 2), stuckBefore: false)
        }
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.task?.cancel()
            state.task = nil
        }
    }

    private func schedule(on channel: any Channel, in period: TimeAmount, stuckBefore: Bool) -> Scheduled<Void> {
        channel.eventLoop.scheduleTask(in: period) { [self] in
            let stuck = !channel.isWritable
            if stuck, stuckBefore {
                channel.close(promise: nil)
                return
            }
            state.withLock { state in
                guard !state.stopped else { return }
                state.task = schedule(on: channel, in: period, stuckBefore: stuck)
            }
        }
    }
}
