import NIOCore

/// Reads either framing, chosen from the first bytes of the stream: a JSON text (`{` or `[`) means
/// newline-delimited messages, anything else LSP's `Content-Length` headers. Editors speak the second, agents and
/// shell pipelines the first; stdio serves both without a flag.
public struct DetectingFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = JSONRPCFrame

    private enum State {
        case detecting
        case newlineDelimited(NewlineDelimitedFrameDecoder)
        case contentLength(ContentLengthFrameDecoder)
    }

    public let maximumMessageBytes: Int
    private var state = State.detecting

    public init(maximumMessageBytes: Int) {
        self.maximumMessageBytes = maximumMessageBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = nextFrame(from: &buffer) else { return .needMoreData }
        if let frame { context.fireChannelRead(Self.wrapInboundOut(frame)) }
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        switch state {
        case .detecting:
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        case .newlineDelimited(var decoder):
            defer { state = .newlineDelimited(decoder) }
            return try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
        case .contentLength(var decoder):
            defer { state = .contentLength(decoder) }
            return try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
        }
    }

    mutating func nextFrame(from buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        switch state {
        case .detecting:
            // Leading whitespace says nothing about the framing; drop it and look again.
            let view = buffer.readableBytesView
            guard let start = view.firstIndex(where: { !isJSONWhitespace($0) }) else {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            }
            let first = view[start]
            buffer.moveReaderIndex(to: start)
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                state = .newlineDelimited(NewlineDelimitedFrameDecoder(maximumMessageBytes: maximumMessageBytes))
            } else {
                state = .contentLength(ContentLengthFrameDecoder(maximumMessageBytes: maximumMessageBytes))
            }
            return .some(nil)
        case .newlineDelimited(var decoder):
            defer { state = .newlineDelimited(decoder) }
            return decoder.nextFrame(from: &buffer)
        case .contentLength(var decoder):
            defer { state = .contentLength(decoder) }
            return decoder.nextFrame(from: &buffer)
        }
    }
}
