#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import JSONRPC
import NIOCore
import Testing

/// The stdio server on real pipes: everything is written and standard input closed first, then the server runs
/// until it sees the end of input, then its output is read back.
@Suite struct StdioServerTests {
    /// Runs a stdio server over pipes fed with `input`; returns all it wrote. The input is written and the output
    /// read on threads of their own while the server runs, so either may be larger than a pipe's buffer.
    /// - Parameter readerDelay: How long the output waits before anyone reads it (a slow client).
    static func serve(
        _ input: String, maximumMessageBytes: Int = 16 << 20, readerDelay: Duration = .zero
    ) async throws -> String {
        var inputPipe: [Int32] = [0, 0]
        var outputPipe: [Int32] = [0, 0]
        #expect(pipe(&inputPipe) == 0 && pipe(&outputPipe) == 0)
        let (inputWriteEnd, outputReadEnd) = (inputPipe[1], outputPipe[0])
        let bytes = Array(input.utf8)
        let inputWritten = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Self.writeAll(bytes, to: inputWriteEnd)
            inputWritten.signal()
        }
        let output = OutputCollector()
        let delayMicroseconds = UInt32(
            readerDelay.components.seconds * 1_000_000 + readerDelay.components.attoseconds / 1_000_000_000_000)
        Thread.detachNewThread {
            usleep(delayMicroseconds)
            output.read(from: outputReadEnd)
        }
        let server = StdioServer(
            configuration: .init(
                maximumMessageBytes: maximumMessageBytes,
                inputDescriptor: inputPipe[0],
                outputDescriptor: outputPipe[1]
            ),
            router: TestSupport.router(),
            logger: TestSupport.logger
        )
        try await server.run()
        inputWritten.wait()
        close(inputPipe[0])
        close(outputPipe[1])
        let text = output.wait()
        close(outputReadEnd)
        return text
    }

    /// Writes `bytes` to a descriptor, as far as it takes them, then closes it (a blocking writer's thread).
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count <= 0 { break }
            offset += count
        }
        close(descriptor)
    }

    /// Reads a descriptor to its end on a thread of its own.
    final class OutputCollector: @unchecked Sendable {
        // Sendable: `bytes` is written by the reading thread before it signals `done`, and read only after.
        private var bytes: [UInt8] = []
        private let done = DispatchSemaphore(value: 0)

        func read(from descriptor: Int32) {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                bytes.append(contentsOf: chunk[0..<count])
            }
            done.signal()
        }

        func wait() -> String {
            done.wait()
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    @Test func responsesLargerThanAPipeAreWrittenWholeBeforeTheServerStops() async throws {
        // One answer of 300 KB, written while the channel still takes writes, so nothing waits for it: when input
        // ends, the server must not close its output before the answer is out. The client starts reading late.
        let text = String(repeating: "y", count: 300_000)
        let input = #"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"\#(text)"},"id":1}"# + "\n"
        let output = try await Self.serve(input, readerDelay: .milliseconds(500))
        #expect(output.utf8.count > 300_000)
        let message = try JSONParser.parse(String(output.dropLast()))
        #expect(message["result"]?["text"]?.stringValue == text)
    }

    /// The usual "write everything, close standard input, wait" of a parent that forgot to read standard output:
    /// the answers fill the pipe, and the server still stops, `drainTimeout` after the input ended.
    ///
    /// The input must end for that, so the server is let take every request at once (`maximumInFlight`): with the
    /// default 64, answers that cannot be written stop it reading (as they should), and whether it has read the
    /// whole input by then depends on how reads and answers interleave, which a busy machine changes. (A parent that
    /// writes more than the server takes in, and never reads, waits for ever on its own write.)
    @Test func aReaderThatNeverReadsCannotKeepTheServerRunning() async throws {
        var inputPipe: [Int32] = [0, 0]
        var outputPipe: [Int32] = [0, 0]
        #expect(pipe(&inputPipe) == 0 && pipe(&outputPipe) == 0)
        defer { for descriptor in inputPipe + outputPipe { close(descriptor) } }
        let request = #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"a-long-id-to-fill-the-pipe-sooner"}"#
        let bytes = Array(String(repeating: request + "\n", count: 5_000).utf8)
        let inputWriteEnd = inputPipe[1]
        Thread.detachNewThread { Self.writeAll(bytes, to: inputWriteEnd) }
        inputPipe[1] = -1
        let stoppedInTime = try await Self.stopsWithin400ms(
            input: inputPipe[0], output: outputPipe[1], maximumInFlight: 10_000)
        #expect(stoppedInTime, "the server did not stop while its output was not read")
    }

    /// Whether a server on these descriptors, with a `drainTimeout` of 400 ms, stops within the 60 s bound.
    static func stopsWithin400ms(input: Int32, output: Int32, maximumInFlight: Int = 64) async throws -> Bool {
        let server = StdioServer(
            configuration: .init(
                maximumInFlight: maximumInFlight, inputDescriptor: input, outputDescriptor: output,
                drainTimeout: .milliseconds(400)),
            router: TestSupport.router(),
            logger: TestSupport.logger
        )
        return try await ServerTestSupport.finishes { try await server.run() }
    }

    /// Answers that fill a small pipe and leave less than the channel's high watermark queued behind it: the channel
    /// stays writable while nothing leaves, and the server still stops, `drainTimeout` after the input ended.
    @Test func answersStuckBelowTheHighWatermarkCannotKeepTheServerRunning() async throws {
        var inputPipe: [Int32] = [0, 0]
        var outputPipe: [Int32] = [0, 0]
        #expect(pipe(&inputPipe) == 0 && pipe(&outputPipe) == 0)
        defer { for descriptor in inputPipe + outputPipe { close(descriptor) } }
        // F_SETPIPE_SZ (1031): the output pipe holds one page, so about 20 KiB of answers wait in the channel,
        // under SwiftNIO's default high watermark of 64 KiB.
        #expect(fcntl(outputPipe[1], 1031, 4096) >= 4096)
        let id = String(repeating: "i", count: 60)
        let request = #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"\#(id)"}"#
        let bytes = Array(String(repeating: request + "\n", count: 250).utf8)
        Self.writeAll(bytes, to: inputPipe[1])  // Fits in the input pipe; closes its write end.
        inputPipe[1] = -1
        let stoppedInTime = try await Self.stopsWithin400ms(input: inputPipe[0], output: outputPipe[1])
        #expect(stoppedInTime, "the server did not stop while answers waited below the high watermark")
    }

    @Test func aFirstMessageThatIsNotAnObjectIsAnsweredAtOnce() async throws {
        // Neither `{` nor a Content-Length header first: newline framing, an error for the line, and the next
        // request answered (no waiting for a header that never comes).
        for first in [#""hi""#, "null", "\u{FEFF}{}", "garbage"] {
            let output = try await Self.serve(
                first + "\n" + #"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":7}"# + "\n")
            let messages = try output.split(separator: "\n").map { try JSONParser.parse(String($0)) }
            #expect(messages.count == 2, "\(first)")
            #expect(messages.first?["error"] != nil, "\(first)")
            #expect(messages.last?["result"]?.intValue == 3, "\(first)")
        }
    }

    @Test func newlineDelimitedInGivesNewlineDelimitedOut() async throws {
        let output = try await Self.serve(
            """
            {"jsonrpc":"2.0","method":"sum","params":[1,2],"id":1}
            {"jsonrpc":"2.0","method":"update","params":[1]}
            [{"jsonrpc":"2.0","method":"sum","params":[3],"id":2},{"jsonrpc":"2.0","method":"get_data","id":3}]

            """
        )
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "every message ends with a newline")
        let messages = try lines.dropLast().map { try JSONParser.parse(String($0)) }
        #expect(messages.count == 2, "the notification gets nothing")
        #expect(messages.contains { $0["id"]?.intValue == 1 && $0["result"]?.intValue == 3 })
        #expect(messages.contains { $0.arrayValue?.count == 2 })
    }

    @Test func contentLengthInGivesContentLengthOut() async throws {
        let first = #"{"jsonrpc":"2.0","method":"subtract","params":{"minuend":"é","subtrahend":1},"id":1}"#
        let second = "{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"sum\",\n  \"params\": [40, 2],\n  \"id\": 2\n}"
        let input = [first, second].map { "Content-Length: \($0.utf8.count)\r\n\r\n\($0)" }.joined()
        let output = try await Self.serve(input)
        var rest = Substring(output)
        var messages: [JSONValue] = []
        while !rest.isEmpty {
            #expect(rest.hasPrefix("Content-Length: "))
            let headerEnd = try #require(rest.range(of: "\r\n\r\n"))
            let length = try #require(Int(rest[rest.index(rest.startIndex, offsetBy: 16)..<headerEnd.lowerBound]))
            let body = Array(rest[headerEnd.upperBound...].utf8.prefix(length))
            #expect(body.count == length)
            messages.append(try JSONParser.parse(body))
            rest = Substring(String(decoding: rest[headerEnd.upperBound...].utf8.dropFirst(length), as: UTF8.self))
        }
        #expect(messages.count == 2)
        #expect(messages.contains { $0["id"]?.intValue == 1 && $0["error"]?["data"]?["field"] == "params.minuend" })
        #expect(messages.contains { $0["id"]?.intValue == 2 && $0["result"]?.intValue == 42 })
    }

    @Test func endOfInputWaitsForRequestsInFlight() async throws {
        let output = try await Self.serve(
            #"{"jsonrpc":"2.0","method":"test.sleep","params":{"ms":300,"tag":"done"},"id":"late"}"# + "\n"
        )
        let response = try JSONParser.parse(output.trimmingCharacters(in: "\n"))
        #expect(response["result"] == "done")
        #expect(response["id"] == "late")
    }

    @Test func oversizedContentLengthBodyIsSkippedAndAnswered() async throws {
        let big =
            #"{"jsonrpc":"2.0","method":"sum","params":[1],"id":"x","pad":""# + String(repeating: "p", count: 4000)
            + #""}"#
        let small = #"{"jsonrpc":"2.0","method":"sum","params":[9],"id":"y"}"#
        let input = [big, small].map { "Content-Length: \($0.utf8.count)\r\n\r\n\($0)" }.joined()
        let output = try await Self.serve(input, maximumMessageBytes: 1024)
        #expect(output.contains(#""message too large""#))
        #expect(output.contains(#""result":9"#))
    }

    @Test func brokenHeaderIsAnsweredThenTheStreamCloses() async throws {
        let output = try await Self.serve("Content-Type: text/plain\r\n\r\n{}")
        #expect(output.hasPrefix("Content-Length: "))
        #expect(output.contains("-32700"))
        #expect(output.contains("Content-Length"))
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.last == character { text.removeLast() }
        return String(text)
    }
}
