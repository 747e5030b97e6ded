import JSONRPC
import JulesCore
import Logging
import Synchronization
import Testing

/// Collects log lines in memory.
final class CapturingSink: LogSink {
    private let lines = Mutex<[String]>([])

    private let urgent = Mutex<[Bool]>([])

    func write(_ line: [UInt8], immediately: Bool) {
        let text = String(decoding: line, as: UTF8.self)
        lines.withLock { $0.append(text) }
        urgent.withLock { $0.append(immediately) }
    }

    var captured: [String] { lines.withLock { $0 } }
    /// For each line captured, whether the handler asked for it to be written at once.
    var immediately: [Bool] { urgent.withLock { $0 } }
}

@Suite struct JSONLogHandlerTests {
    @Test func eachEventIsOneJSONLineWithTheCorrelationID() async throws {
        let sink = CapturingSink()
        let logger = Logger(label: "jules") { label in JSONLogHandler(label: label, level: .debug, sink: sink) }
        await CorrelationID.withValue("req-42") {
            logger.info(
                "hello\nworld",
                metadata: ["method": "health.live", "count": .stringConvertible(3), "error": "metadata error"]
            )
        }
        logger.debug("outside")
        logger.trace("dropped")
        let lines = sink.captured
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().contains("\n") == false })
        let first = try JSONParser.parse(lines[0])
        #expect(first["message"] == "hello\nworld")
        #expect(first["level"] == "info")
        #expect(first["correlation_id"] == "req-42")
        #expect(first["method"] == "health.live")
        #expect(first["count"] == 3, "numbers stay numbers")
        #expect(first["error"] == "metadata error")
        let time = try #require(first["time"]?.stringValue)
        #expect(time.count == 24 && time.hasSuffix("Z") && time.dropFirst(10).first == "T")
        let second = try JSONParser.parse(lines[1])
        #expect(second["correlation_id"] == nil)
    }
}
