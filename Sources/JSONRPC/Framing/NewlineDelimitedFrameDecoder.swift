import NIOCore

/// Splits a stream into newline-delimited messages of at most `maximumMessageBytes` each.
///
/// A longer line is reported once as ``JSONRPCFrame/Kind/tooLarge(limit:)`` as soon as it passes the limit, and
/// its bytes are dropped as they arrive until its newline, so a 20 MB line never sits in memory and the next
/// line is read as usual. Blank lines are skipped. A last line without a newline at end of input is still a message.
public struct NewlineDelimitedFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = JSONRPCFrame

    public let maximumMessageBytes: Int
    /// How many readable bytes have already been searched for a newline, so no byte is scanned twice.
    private var scannedBytes = 0
    /// Whether the rest of the current line is being skipped because it is too long.
    private var discarding = false

    public init(maximumMessageBytes: Int) {
        precondition(maximumMessageBytes > 0)
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
        if let frame = nextFrame(from: &buffer) {
            if let frame { context.fireChannelRead(Self.wrapInboundOut(frame)) }
            return .continue
        }
        // The input ended inside a line: what is there is the last message (within the limit: the byte of slack a
        // line has for its "\r" is not a message's).
        if !discarding, buffer.readableBytes > maximumMessageBytes {
            context.fireChannelRead(
                Self.wrapInboundOut(JSONRPCFrame(.tooLarge(limit: maximumMessageBytes), framing: .newlineDelimited)))
        } else if !discarding, buffer.readableBytes > 0, let line = buffer.readSlice(length: buffer.readableBytes),
            let frame = Self.frame(forLine: line)
        {
            context.fireChannelRead(Self.wrapInboundOut(frame))
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        scannedBytes = 0
        discarding = false
        return .needMoreData
    }

    /// Takes the next frame off `buffer`.
    /// - Returns: `nil` when more bytes are needed; `.some(nil)` when a line was consumed that yields no frame
    ///   (blank, or the end of a discarded line); `.some(frame)` otherwise.
    mutating func nextFrame(from buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        let view = buffer.readableBytesView
        let searchStart = view.index(view.startIndex, offsetBy: scannedBytes)
        guard let newline = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) else {
            if discarding {
                buffer.moveReaderIndex(forwardBy: view.count)
                scannedBytes = 0
                return nil
            }
            // One byte of slack for the `\r` that may end a line of exactly the limit.
            guard view.count > maximumMessageBytes + 1 else {
                scannedBytes = view.count
                return nil
            }
            buffer.moveReaderIndex(forwardBy: view.count)
            scannedBytes = 0
            discarding = true
            return .some(JSONRPCFrame(.tooLarge(limit: maximumMessageBytes), framing: .newlineDelimited))
        }
        let length = view.distance(from: view.startIndex, to: newline)
        scannedBytes = 0
        if discarding {
            buffer.moveReaderIndex(forwardBy: length + 1)
            discarding = false
            return .some(nil)
        }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        guard let frame = Self.frame(forLine: line) else { return .some(nil) }
        if case .message(let message) = frame.kind, message.readableBytes > maximumMessageBytes {
            return .some(JSONRPCFrame(.tooLarge(limit: maximumMessageBytes), framing: .newlineDelimited))
        }
        return .some(frame)
    }

    /// The frame for one line: `nil` for a blank line; a trailing `\r` is dropped.
    private static func frame(forLine line: ByteBuffer) -> JSONRPCFrame? {
        var line = line
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        guard line.readableBytesView.contains(where: { !isJSONWhitespace($0) }) else { return nil }
        return JSONRPCFrame(.message(line), framing: .newlineDelimited)
    }
}

/// Space, tab, line feed and carriage return: the whitespace JSON allows between tokens.
@inline(__always)
func isJSONWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
