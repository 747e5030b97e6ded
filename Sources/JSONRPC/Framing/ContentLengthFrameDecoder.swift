import NIOCore

/// Reads messages framed as LSP's base protocol: header fields ending in an empty line, then exactly
/// `Content-Length` bytes.
///
/// A body over the limit is reported as ``JSONRPCFrame/Kind/tooLarge(limit:)`` and skipped (its length is known),
/// so the stream goes on. A header that cannot be read leaves no way to find the next message: it is reported as
/// ``JSONRPCFrame/Kind/unrecoverable(reason:)``.
public struct ContentLengthFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = JSONRPCFrame

    /// The longest header part accepted.
    public static let maximumHeaderBytes = 8192

    private enum State {
        case header
        case body(length: Int)
        case skipping(remaining: Int)
        case failed
    }

    public let maximumMessageBytes: Int
    private var state = State.header
    /// How many bytes of the header part have been searched for its end, so a header that arrives a byte at a
    /// time is not searched from the start each time.
    private var scannedHeaderBytes = 0

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
        // A message cut off by the end of input cannot be answered: it has no id yet.
        try decode(context: context, buffer: &buffer)
    }

    /// Takes the next frame off `buffer`: `nil` when more bytes are needed, `.some(nil)` when bytes were consumed
    /// without completing a frame.
    mutating func nextFrame(from buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        switch state {
        case .failed:
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return nil
        case .skipping(let remaining):
            let skipped = min(remaining, buffer.readableBytes)
            guard skipped > 0 else { return nil }
            buffer.moveReaderIndex(forwardBy: skipped)
            state = remaining == skipped ? .header : .skipping(remaining: remaining - skipped)
            return .some(nil)
        case .body(let length):
            guard let body = buffer.readSlice(length: length) else { return nil }
            state = .header
            return .some(JSONRPCFrame(.message(body), framing: .contentLength))
        case .header:
            return readHeader(from: &buffer)
        }
    }

    private mutating func readHeader(from buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        let view = buffer.readableBytesView
        // Blank lines between messages are tolerated (some writers end a body with a newline).
        if let first = view.first, first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") {
            buffer.moveReaderIndex(forwardBy: 1)
            return .some(nil)
        }
        guard let end = Self.headerEnd(in: view, from: max(0, scannedHeaderBytes - 3)) else {
            scannedHeaderBytes = view.count
            if view.count > Self.maximumHeaderBytes {
                return fail("the header part is longer than \(Self.maximumHeaderBytes) bytes", &buffer)
            }
            return nil
        }
        scannedHeaderBytes = 0
        let headerLength = view.distance(from: view.startIndex, to: end)
        guard headerLength <= Self.maximumHeaderBytes else {
            return fail("the header part is longer than \(Self.maximumHeaderBytes) bytes", &buffer)
        }
        let header = buffer.readString(length: headerLength) ?? ""
        buffer.moveReaderIndex(forwardBy: 4)
        let length: Int
        switch Self.contentLength(of: header) {
        case .success(let value): length = value
        case .failure(let reason): return fail(reason.text, &buffer)
        }
        if length > maximumMessageBytes {
            state = .skipping(remaining: length)
            return .some(JSONRPCFrame(.tooLarge(limit: maximumMessageBytes), framing: .contentLength))
        }
        if length == 0 {
            // Complete already: waiting for a body would wait for the next bytes (a decoder is not called on an
            // empty buffer), and the client for an answer that comes only with them.
            return .some(JSONRPCFrame(.message(ByteBuffer()), framing: .contentLength))
        }
        state = .body(length: length)
        return .some(nil)
    }

    private mutating func fail(_ reason: String, _ buffer: inout ByteBuffer) -> JSONRPCFrame?? {
        state = .failed
        scannedHeaderBytes = 0
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .some(JSONRPCFrame(.unrecoverable(reason: reason), framing: .contentLength))
    }

    private static func headerEnd(in view: ByteBufferView, from offset: Int) -> ByteBufferView.Index? {
        let limit = min(view.count, maximumHeaderBytes + 4)
        guard limit >= 4, offset <= limit - 4 else { return nil }
        var index = view.index(view.startIndex, offsetBy: offset)
        let last = view.index(view.startIndex, offsetBy: limit - 4)
        while index <= last {
            if view[index] == 0x0D, view[index + 1] == 0x0A, view[index + 2] == 0x0D, view[index + 3] == 0x0A {
                return index
            }
            index += 1
        }
        return nil
    }

    struct HeaderError: Error {
        var text: String
    }

    /// The value of `Content-Length`, checking the other fields as the base protocol says.
    static func contentLength(of header: String) -> Result<Int, HeaderError> {
        var length: Int?
        for line in header.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(HeaderError(text: "a header field has no ':'"))
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces
            switch name {
            case "content-length":
                guard length == nil else { return .failure(HeaderError(text: "Content-Length is given twice")) }
                guard !value.isEmpty, value.utf8.count <= 12, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                    let parsed = Int(value)
                else {
                    return .failure(HeaderError(text: "Content-Length must be a decimal number of bytes"))
                }
                length = parsed
            case "content-type":
                let lowered = value.lowercased()
                if let charset = lowered.split(separator: ";").first(where: { $0.trimmingSpaces.hasPrefix("charset=") })
                {
                    let name = charset.trimmingSpaces.dropFirst("charset=".count)
                    guard name == "utf-8" || name == "utf8" else {
                        return .failure(HeaderError(text: "only the utf-8 charset is supported"))
                    }
                }
            default:
                // Other fields are allowed and ignored, as in HTTP.
                break
            }
        }
        guard let length else { return .failure(HeaderError(text: "the header has no Content-Length")) }
        return .success(length)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
