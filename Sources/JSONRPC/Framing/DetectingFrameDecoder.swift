import NIOCore

/// Reads either framing, chosen from the first bytes of the stream: a header (`Content-Length:` or
/// `Content-Type:`, any case) means LSP's `Content-Length` framing, anything else newline-delimited messages.
/// Editors speak the first, agents and shell pipelines the second; stdio serves both without a flag. (Anything
/// else first, such as `"hi"`, a byte-order mark or garbage, is a line that gets its error at once.)
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

    /// "content-" in lower case; `| 0x20` lowers an ASCII letter and leaves `-` as it is.
    private static let headerStart = Array("content-".utf8)

    mutating func nextFrame(from buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        switch state {
        case .detecting:
            // Leading whitespace says nothing about the framing; drop it and look again.
            let view = buffer.readableBytesView
            guard let start = view.firstIndex(where: { !isJSONWhitespace($0) }) else {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            }
            buffer.moveReaderIndex(to: start)
            // Both LSP headers start with "Content-"; wait for enough bytes to tell, unless they already differ.
            let head = buffer.readableBytesView.prefix(Self.headerStart.count)
            let matches = zip(head, Self.headerStart).allSatisfy { $0 | 0x20 == $1 }
            if matches, head.count < Self.headerStart.count { return nil }
            if matches {
                state = .contentLength(ContentLengthFrameDecoder(maximumMessageBytes: maximumMessageBytes))
            } else {
                state = .newlineDelimited(NewlineDelimitedFrameDecoder(maximumMessageBytes: maximumMessageBytes))
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
