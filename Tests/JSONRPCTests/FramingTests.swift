import JSONRPC
import NIOCore
import NIOEmbedded
import Testing

/// The frame decoders, fed whole, one byte at a time and in random chunks: the frames must not depend on how
/// the stream was cut.
@Suite struct FramingTests {
    enum Chunking: CustomTestStringConvertible, Sendable, CaseIterable {
        case whole, byteByByte, random
        var testDescription: String { "\(self)" }
    }

    /// What came out of a decoder, in a form easy to compare.
    enum Output: Equatable {
        case message(String)
        case tooLarge
        case unrecoverable
    }

    static func decode<Decoder: ByteToMessageDecoder & Sendable>(
        _ decoder: Decoder,
        _ input: [UInt8],
        chunking: Chunking,
        seed: UInt64 = 42
    ) throws -> [(Output, JSONRPCFraming)] where Decoder.InboundOut == JSONRPCFrame {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        var generator = SplitMix64(state: seed)
        var offset = 0
        while offset < input.count {
            let size: Int
            switch chunking {
            case .whole: size = input.count
            case .byteByByte: size = 1
            case .random: size = Int(generator.next() % 17) + 1
            }
            let end = min(offset + size, input.count)
            try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
            offset = end
        }
        _ = try channel.finish()
        var outputs: [(Output, JSONRPCFraming)] = []
        // `finish` runs `decodeLast`; whatever it produced is read after it.
        while let frame = try channel.readInbound(as: JSONRPCFrame.self) {
            switch frame.kind {
            case .message(let buffer): outputs.append((.message(String(buffer: buffer)), frame.framing))
            case .tooLarge: outputs.append((.tooLarge, frame.framing))
            case .unrecoverable: outputs.append((.unrecoverable, frame.framing))
            }
        }
        return outputs
    }

    // MARK: Newline-delimited

    @Test(arguments: Chunking.allCases)
    func newlineDelimitedSplitsLines(_ chunking: Chunking) throws {
        let input = Array("{\"a\":1}\n{\"b\":\"é\"}\r\n\n   \n[1,2]\n{\"last\":true}".utf8)
        let outputs = try Self.decode(
            NewlineDelimitedFrameDecoder(maximumMessageBytes: 1024), input, chunking: chunking)
        #expect(
            outputs.map(\.0) == [
                .message("{\"a\":1}"), .message("{\"b\":\"é\"}"), .message("[1,2]"), .message("{\"last\":true}"),
            ])
        #expect(outputs.allSatisfy { $0.1 == .newlineDelimited })
    }

    @Test(arguments: Chunking.allCases)
    func newlineDelimitedDiscardsAnOversizedLineAndGoesOn(_ chunking: Chunking) throws {
        let big = String(repeating: "x", count: 5000)
        let input = Array("{\"before\":1}\n\(big)\n{\"after\":2}\n".utf8)
        let outputs = try Self.decode(NewlineDelimitedFrameDecoder(maximumMessageBytes: 100), input, chunking: chunking)
        #expect(outputs.map(\.0) == [.message("{\"before\":1}"), .tooLarge, .message("{\"after\":2}")])
    }

    @Test func newlineDelimitedAcceptsALineOfExactlyTheLimit() throws {
        let line = "[" + String(repeating: "1,", count: 48) + "11]"  // 100 bytes
        #expect(line.utf8.count == 100)
        for chunking in Chunking.allCases {
            let outputs = try Self.decode(
                NewlineDelimitedFrameDecoder(maximumMessageBytes: 100),
                Array((line + "\r\n" + line + "1\n").utf8),
                chunking: chunking
            )
            #expect(outputs.map(\.0) == [.message(line), .tooLarge])
        }
    }

    @Test func aLastLineWithoutANewlineHasTheSameLimit() throws {
        let line = "[" + String(repeating: "1,", count: 48) + "11]"  // 100 bytes
        for chunking in Chunking.allCases {
            let exact = try Self.decode(
                NewlineDelimitedFrameDecoder(maximumMessageBytes: 100), Array(line.utf8), chunking: chunking)
            #expect(exact.map(\.0) == [.message(line)])
            let over = try Self.decode(
                NewlineDelimitedFrameDecoder(maximumMessageBytes: 100), Array((line + "1").utf8), chunking: chunking)
            #expect(over.map(\.0) == [.tooLarge])
        }
    }

    @Test func newlineDelimitedReportsAHugeLineOnceBeforeItEnds() throws {
        // The error must not wait for the newline of a line that may never end.
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(NewlineDelimitedFrameDecoder(maximumMessageBytes: 64)))
        for _ in 0..<100 {
            try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 50))
        }
        let first = try channel.readInbound(as: JSONRPCFrame.self)
        guard case .tooLarge? = first?.kind else {
            Issue.record("expected tooLarge, got \(String(describing: first))")
            return
        }
        #expect(try channel.readInbound(as: JSONRPCFrame.self) == nil)
        try channel.writeInbound(ByteBuffer(string: "xx\n{}\n"))
        let next = try channel.readInbound(as: JSONRPCFrame.self)
        guard case .message(let buffer)? = next?.kind else {
            Issue.record("expected a message after the discarded line")
            return
        }
        #expect(String(buffer: buffer) == "{}")
    }

    // MARK: Content-Length

    @Test func anEmptyBodyIsAFrameAtOnceNotWhenMoreBytesCome() throws {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(ContentLengthFrameDecoder(maximumMessageBytes: 64)))
        try channel.writeInbound(ByteBuffer(string: "Content-Length: 0\r\n\r\n"))
        let frame = try channel.readInbound(as: JSONRPCFrame.self)
        guard case .message(let body)? = frame?.kind else {
            Issue.record("expected an empty message, got \(String(describing: frame))")
            return
        }
        #expect(body.readableBytes == 0)
        try channel.writeInbound(ByteBuffer(string: Self.lspMessage("{}")))
        guard case .message(let next)? = try channel.readInbound(as: JSONRPCFrame.self)?.kind else {
            Issue.record("expected the next message")
            return
        }
        #expect(String(buffer: next) == "{}")
    }

    static func lspMessage(_ body: String, extraHeaders: String = "") -> String {
        "Content-Length: \(body.utf8.count)\r\n\(extraHeaders)\r\n\(body)"
    }

    @Test(arguments: Chunking.allCases)
    func contentLengthReadsBodiesByByteCount(_ chunking: Chunking) throws {
        // The vector from framing.md (40 bytes), a body with a multi-byte character, one with newlines inside,
        // and one with a Content-Type header in a different case.
        let ping = #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
        #expect(ping.utf8.count == 40)
        let accented = #"{"text":"é"}"#
        let pretty = "{\n  \"a\": 1\n}"
        let input =
            "Content-Length: 40\r\n\r\n\(ping)" + Self.lspMessage(accented) + Self.lspMessage(pretty)
            + Self.lspMessage("[]", extraHeaders: "content-type: application/vscode-jsonrpc; charset=utf8\r\n")
        let outputs = try Self.decode(
            ContentLengthFrameDecoder(maximumMessageBytes: 1024),
            Array(input.utf8),
            chunking: chunking
        )
        #expect(outputs.map(\.0) == [.message(ping), .message(accented), .message(pretty), .message("[]")])
        #expect(outputs.allSatisfy { $0.1 == .contentLength })
    }

    @Test(arguments: Chunking.allCases)
    func contentLengthSkipsAnOversizedBodyAndGoesOn(_ chunking: Chunking) throws {
        let big = String(repeating: "y", count: 3000)
        let input = Self.lspMessage("{}") + Self.lspMessage(big) + Self.lspMessage("[1]")
        let outputs = try Self.decode(
            ContentLengthFrameDecoder(maximumMessageBytes: 100), Array(input.utf8), chunking: chunking)
        #expect(outputs.map(\.0) == [.message("{}"), .tooLarge, .message("[1]")])
    }

    @Test(arguments: [
        "Content-Type: application/json\r\n\r\n{}",
        "Content-Length: abc\r\n\r\n{}",
        "Content-Length: -2\r\n\r\n{}",
        "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "Content-Length 2\r\n\r\n{}",
        "Content-Length: 2\r\nContent-Type: application/json; charset=latin1\r\n\r\n{}",
    ])
    func contentLengthRejectsBrokenHeaders(_ input: String) throws {
        for chunking in Chunking.allCases {
            let outputs = try Self.decode(
                ContentLengthFrameDecoder(maximumMessageBytes: 100), Array(input.utf8), chunking: chunking)
            #expect(outputs.map(\.0) == [.unrecoverable], "\(input.debugDescription) cut \(chunking)")
        }
    }

    @Test func contentLengthRejectsAnEndlessHeader() throws {
        let input = Array(String(repeating: "X-Padding: 0123456789\r\n", count: 1000).utf8)
        let outputs = try Self.decode(ContentLengthFrameDecoder(maximumMessageBytes: 100), input, chunking: .random)
        #expect(outputs.map(\.0) == [.unrecoverable])
    }

    // MARK: Detection

    @Test(arguments: Chunking.allCases)
    func detectionChoosesNewlineDelimitedForJSON(_ chunking: Chunking) throws {
        let input = Array("\n  {\"id\":1}\n[2]\n".utf8)
        let outputs = try Self.decode(DetectingFrameDecoder(maximumMessageBytes: 100), input, chunking: chunking)
        #expect(outputs.map(\.0) == [.message("{\"id\":1}"), .message("[2]")])
        #expect(outputs.allSatisfy { $0.1 == .newlineDelimited })
    }

    @Test(arguments: Chunking.allCases)
    func detectionChoosesContentLengthForHeaders(_ chunking: Chunking) throws {
        let input = Array((Self.lspMessage("{\"id\":1}") + Self.lspMessage("{\n}")).utf8)
        let outputs = try Self.decode(DetectingFrameDecoder(maximumMessageBytes: 100), input, chunking: chunking)
        #expect(outputs.map(\.0) == [.message("{\"id\":1}"), .message("{\n}")])
        #expect(outputs.allSatisfy { $0.1 == .contentLength })
    }

    @Test func framingWritesWhatTheDecoderReads() throws {
        let body = Array(#"{"jsonrpc":"2.0","result":"é","id":1}"#.utf8)
        for framing in [JSONRPCFraming.newlineDelimited, .contentLength] {
            let framed = framing.frame(body, allocator: ByteBufferAllocator())
            let outputs = try Self.decode(
                DetectingFrameDecoder(maximumMessageBytes: 100),
                Array(framed.readableBytesView),
                chunking: .byteByByte
            )
            #expect(outputs.map(\.0) == [.message(String(decoding: body, as: UTF8.self))])
            #expect(outputs.map(\.1) == [framing])
        }
    }
}
