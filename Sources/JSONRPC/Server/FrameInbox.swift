import NIOConcurrencyHelpers
import NIOCore

/// Hands a connection's frames from its pipeline to the task that serves it.
///
/// It does what `NIOAsyncChannel`'s inbound stream did for us, with less: one reader, one element type, no
/// generic async-sequence machinery on the path of every request. Reading from the socket pauses while
/// `highWatermark` frames wait, and resumes when the reader has taken them down to `lowWatermark`.
final class FrameInbox: Sendable {
    private struct State {
        var frames = CircularBuffer<JSONRPCFrame>()
        var waiter: CheckedContinuation<JSONRPCFrame?, any Error>?
        var isFinished = false
        var failure: (any Error)?
        var readPaused = false
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
    func push(_ frame: JSONRPCFrame) -> Bool {
        let (waiter, pause): (CheckedContinuation<JSONRPCFrame?, any Error>?, Bool) = state.withLockedValue { state in
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
        let waiter = state.withLockedValue { state -> CheckedContinuation<JSONRPCFrame?, any Error>? in
            guard !state.isFinished else { return nil }
            state.isFinished = true
            state.failure = failure
            defer { state.waiter = nil }
            return state.waiter
        }
        if let failure { waiter?.resume(throwing: failure) } else { waiter?.resume(returning: nil) }
    }

    /// Whether to read no more: the reader is behind, or the stream has ended.
    var isReadPaused: Bool { state.withLockedValue { $0.readPaused || $0.isFinished } }

    /// The next frame, waiting for one if none is there; `nil` once the input has ended.
    func next() async throws -> JSONRPCFrame? {
        enum Taken {
            case frame(JSONRPCFrame, resume: Bool)
            case end((any Error)?)
            case wait
        }
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
                    let immediate: Result<JSONRPCFrame?, any Error>? = state.withLockedValue { state in
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

/// The last handler of a connection's pipeline: frames go into the inbox, reads are held back while it is full
/// (the inbox asks for a new read when it drains), and the end of the input, or an error, ends it.
final class FrameInboxHandler: ChannelDuplexHandler {
    typealias InboundIn = JSONRPCFrame
    typealias OutboundIn = NIOAny

    let inbox: FrameInbox

    init(inbox: FrameInbox) {
        self.inbox = inbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        _ = inbox.push(unwrapInboundIn(data))
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
    let inbox: FrameInbox

    /// Adds the frame decoder and the inbox to a new channel's pipeline; runs on its event loop.
    static func configure<Decoder: ByteToMessageDecoder & Sendable>(
        _ channel: any Channel,
        decoder: Decoder
    ) throws -> JSONRPCConnectionChannel where Decoder.InboundOut == JSONRPCFrame {
        let inbox = FrameInbox(resumeReading: { channel.read() })
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
        try channel.pipeline.syncOperations.addHandler(FrameInboxHandler(inbox: inbox))
        return JSONRPCConnectionChannel(channel: channel, inbox: inbox)
    }
}
