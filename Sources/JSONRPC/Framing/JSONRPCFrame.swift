import NIOCore

/// How messages are delimited on a stream.
public enum JSONRPCFraming: Sendable, Hashable {
    /// One compact JSON text per line, ended by `\n` (a `\r` before it is tolerated).
    case newlineDelimited
    /// LSP's base protocol: `Content-Length: N\r\n\r\n` and then exactly N bytes.
    case contentLength

    /// Frames one outgoing message.
    public func frame(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        switch self {
        case .newlineDelimited:
            var buffer = allocator.buffer(capacity: message.count + 1)
            buffer.writeBytes(message)
            buffer.writeInteger(UInt8(ascii: "\n"))
            return buffer
        case .contentLength:
            var buffer = allocator.buffer(capacity: message.count + 32)
            buffer.writeString("Content-Length: \(message.count)\r\n\r\n")
            buffer.writeBytes(message)
            return buffer
        }
    }
}

/// What a frame decoder hands on: a message, or the news that one was refused.
public struct JSONRPCFrame: Sendable {
    public enum Kind: Sendable {
        /// The bytes of one message, without its framing.
        case message(ByteBuffer)
        /// A message longer than the limit; its bytes have been (or are being) skipped and the stream goes on.
        case tooLarge(limit: Int)
        /// The stream cannot be read on (a broken header): the error is answered and the connection closed.
        case unrecoverable(reason: String)
    }

    public var kind: Kind
    /// The framing the message came in, which its response goes out in.
    public var framing: JSONRPCFraming

    public init(_ kind: Kind, framing: JSONRPCFraming) {
        self.kind = kind
        self.framing = framing
    }
}
