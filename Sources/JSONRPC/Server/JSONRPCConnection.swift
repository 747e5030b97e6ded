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
        let allocator = channel.channel.allocator
        do {
            try await channel.executeThenClose { inbound, outbound in
                let slots = AsyncSemaphore(value: maximumInFlight)
                try await withThrowingDiscardingTaskGroup { group in
                    for try await frame in inbound.cancelOnGracefulShutdown() {
                        try await slots.wait()
                        let closeAfterwards: Bool
                        if case .unrecoverable = frame.kind { closeAfterwards = true } else { closeAfterwards = false }
                        group.addTask {
                            defer { slots.signal() }
                            guard let response = await respond(to: frame) else { return }
                            // A client that went away cannot be answered; its other requests still finish.
                            try? await outbound.write(frame.framing.frame(response, allocator: allocator))
                        }
                        if closeAfterwards { break }
                    }
                }
            }
        } catch is CancellationError {
            logger.debug("connection cancelled")
        } catch {
            logger.debug("connection closed with an error", metadata: ["error": .string(String(describing: error))])
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
