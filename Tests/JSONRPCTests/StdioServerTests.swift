#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import JSONRPC
import Testing

/// The stdio server on real pipes: everything is written and standard input closed first, then the server runs
/// until it sees the end of input, then its output is read back.
@Suite struct StdioServerTests {
    /// Runs a stdio server over pipes fed with `input`; returns all it wrote.
    static func serve(_ input: String, maximumMessageBytes: Int = 16 << 20) async throws -> String {
        var inputPipe: [Int32] = [0, 0]
        var outputPipe: [Int32] = [0, 0]
        #expect(pipe(&inputPipe) == 0 && pipe(&outputPipe) == 0)
        let bytes = Array(input.utf8)
        #expect(bytes.count < 60_000, "must fit the pipe buffer")
        let written = bytes.withUnsafeBytes { write(inputPipe[1], $0.baseAddress, $0.count) }
        #expect(written == bytes.count)
        close(inputPipe[1])
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
        close(inputPipe[0])
        close(outputPipe[1])
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(outputPipe[0], $0.baseAddress, $0.count) }
            if count <= 0 { break }
            output.append(contentsOf: chunk[0..<count])
        }
        close(outputPipe[0])
        return String(decoding: output, as: UTF8.self)
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
