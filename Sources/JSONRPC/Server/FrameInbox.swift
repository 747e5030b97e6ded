import NIOConcurrencyHelpers
import NIOCore

/// Hands a connection's work from its pipeline to the task that serves it.
///
/// It does what `NIOAsyncChannel`'s inbound stream did for us, with less: one reader, no async-sequence machinery
/// on the path of every request. Reading from the socket pauses while `highWatermark` items wait, and resumes
/// when the reader has taken them down to `lowWatermark`.
final class FrameInbox<Element: Sendable>: Sendable {
    private struct State {
        var frames = CircularBuffer<Element>()
        var waiter: CheckedContinuation<Element?, any Error>?
        var isFinished = false
        var failure: (any Error)?
        var readPaused = false
        var onFinish: (@Sendable () -> Void)?
    }

    let highWatermark: Int
    let lowWatermark: Int
    private let state = NIOLockedValueBox(State())
    /// Asks the channel for more bytes; set by the handler, called when a paused inbox drains.
    private let resumeReading: @Sendable () -> Void

    init(highWatermark: Int = 16, lowWatermark: Int = 4, resumeReading: @escaping @Sendable () -> Void) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.resumeReading = resumeReading
    }

    /// Adds a frame; returns whether reading should pause. A frame arriving after the end (the server stopped
    /// taking requests) is dropped.
    func push(_ frame: Element) -> Bool {
        let (waiter, pause): (CheckedContinuation<Element?, any Error>?, Bool) = state.withLockedValue { state in
            if state.isFinished { return (nil, true) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            state.frames.append(frame)
            if state.frames.count >= highWatermark {
                state.readPaused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: frame)
        return pause
    }

    /// Ends the stream: the reader gets the frames still waiting, then `nil` (or `failure`, thrown).
    func finish(failure: (any Error)? = nil) {
        let (waiter, onFinish) = state.withLockedValue {
            state -> (CheckedContinuation<Element?, any Error>?, (@Sendable () -> Void)?) in
            guard !state.isFinished else { return (nil, nil) }
            state.isFinished = true
            state.failure = failure
            defer { (state.waiter, state.onFinish) = (nil, nil) }
            return (state.waiter, state.onFinish)
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
        onFinish?()
    }

    /// Calls `action` once when the stream ends (the input's end, or the server's shutdown), at once if it has:
    /// even while the reader is still busy with the frames before the end.
    func whenFinished(_ action: @escaping @Sendable () -> Void) {
        let finished = state.withLockedValue { state in
            if !state.isFinished { state.onFinish = action }
            return state.isFinished
        }
        if finished { action() }
    }

    /// Whether to read no more: the reader is behind, or the stream has ended.
    var isReadPaused: Bool { state.withLockedValue { $0.readPaused || $0.isFinished } }

    /// Whether the stream has ended: the server takes no more requests on this connection.
    var isFinished: Bool { state.withLockedValue { $0.isFinished } }

    private enum Taken {
        case frame(Element, resume: Bool)
        case end((any Error)?)
        case wait
    }

    /// The next frame, waiting for one if none is there; `nil` once the input has ended.
    func next() async throws -> Element? {
        let taken: Taken = state.withLockedValue { state in
            if let frame = state.frames.popFirst() {
                let resume = state.readPaused && state.frames.count <= lowWatermark
                if resume { state.readPaused = false }
                return .frame(frame, resume: resume)
            }
            if state.isFinished { return .end(state.failure) }
            return .wait
        }
        switch taken {
        case .frame(let frame, let resume):
            if resume { resumeReading() }
            return frame
        case .end(let failure):
            if let failure { throw failure }
            return nil
        case .wait:
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let immediate: Result<Element?, any Error>? = state.withLockedValue { state in
                        if let frame = state.frames.popFirst() { return .success(frame) }
                        if state.isFinished { return state.failure.map { .failure($0) } ?? .success(nil) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        state.waiter = continuation
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let waiter = state.withLockedValue { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }
}

/// What the pipeline hands a connection's task: the work that could not be finished as it arrived.
enum ConnectionWork: Sendable {
    /// A message whose handlers run in a task, and the framing its response goes out in.
    case pending(JSONRPCRouter.PendingMessage, JSONRPCFraming)
    /// A frame the decoder refused, answered with this error; after an unreadable one (`closes`) the connection
    /// takes nothing more and closes once the requests in flight have answered.
    case refused(JSONRPCError, JSONRPCFraming, closes: Bool)
    /// A response made at once while the peer was not taking what was written: the task writes it when the channel
    /// can take it, and holds a place among the requests in flight until then, so such responses are bounded.
    case response(ByteBuffer)
}

/// The last handler of a connection's pipeline. Messages the router can answer at once (``JSONRPCRouter/respondNow(to:)``)
/// are answered here, on the event loop, without a task; the rest go into the inbox for the connection's task.
/// Reads are held back while the inbox is full (it asks for a new read when it drains), and the end of the
/// input, or an error, ends it.
final class FrameInboxHandler: ChannelDuplexHandler {
    typealias InboundIn = JSONRPCFrame
    typealias OutboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    let inbox: FrameInbox<ConnectionWork>
    let router: JSONRPCRouter
    /// Whether responses were written during this read and await the flush at its end.
    private var needsFlush = false

    init(inbox: FrameInbox<ConnectionWork>, router: JSONRPCRouter) {
        self.inbox = inbox
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let message: ByteBuffer
        switch frame.kind {
        case .message(let bytes):
            message = bytes
        case .tooLarge(let limit):
            _ = inbox.push(.refused(.messageTooLarge(limit: limit), frame.framing, closes: false))
            return
        case .unrecoverable(let reason):
            _ = inbox.push(.refused(.parseError(reason), frame.framing, closes: true))
            return
        }
        // After a graceful shutdown began, nothing more is taken: the inbox drops it, and so does this.
        guard !inbox.isFinished else { return }
        switch router.respondNow(to: message) {
        case .answered(nil):
            break
        case .answered(let response?):
            let buffer = frame.framing.frame(response, allocator: context.channel.allocator)
            if context.channel.isWritable {
                context.write(wrapOutboundOut(buffer), promise: nil)
                needsFlush = true
            } else {
                _ = inbox.push(.response(buffer))
            }
        case .pending(let pending):
            _ = inbox.push(.pending(pending, frame.framing))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // One flush for every response made during the read: a client that sent several requests at once gets
        // their answers in one write.
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Swallowing the read stops auto-read until the inbox calls `channel.read()` again.
        if !inbox.isReadPaused {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inbox.finish()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        inbox.finish(failure: error)
        context.close(promise: nil)
    }
}

/// A connection's channel with its inbox, as the servers hand it to ``JSONRPCConnection``.
struct JSONRPCConnectionChannel: Sendable {
    let channel: any Channel
    let inbox: FrameInbox<ConnectionWork>

    /// Adds the frame decoder and the inbox to a new channel's pipeline; runs on its event loop.
    static func configure<Decoder: ByteToMessageDecoder & Sendable>(
        _ channel: any Channel,
        decoder: Decoder,
        router: JSONRPCRouter
    ) throws -> JSONRPCConnectionChannel where Decoder.InboundOut == JSONRPCFrame {
        let inbox = FrameInbox<ConnectionWork>(resumeReading: { channel.read() })
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        try channel.pipeline.syncOperations.addHandler(FrameInboxHandler(inbox: inbox, router: router))
        return JSONRPCConnectionChannel(channel: channel, inbox: inbox)
    }
}
