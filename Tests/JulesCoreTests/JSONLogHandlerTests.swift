import Foundation
import JSONRPC
import Logging
import Synchronization
import Testing

@testable import JulesCore

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

    @Test func metadataCannotTakeTheLineOwnFields() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "jules") { label in JSONLogHandler(label: label, level: .debug, sink: sink) }
        logger.info(
            "the real message",
            metadata: ["level": "critical", "message": "forged", "time": "never", "logger": "other", "kept": "yes"])
        let line = try #require(sink.captured.first)
        // Each key once: a parser that keeps the last of two equal keys cannot be misled.
        for key in ["time", "level", "message", "logger"] {
            #expect(line.components(separatedBy: "\"\(key)\":").count == 2, "\(key) appears once")
        }
        let parsed = try JSONParser.parse(line)
        #expect(parsed["message"] == "the real message")
        #expect(parsed["level"] == "info")
        #expect(parsed["logger"] == "jules")
        #expect(parsed["metadata.level"] == "critical")
        #expect(parsed["metadata.message"] == "forged")
        #expect(parsed["metadata.time"] == "never")
        #expect(parsed["metadata.logger"] == "other")
        #expect(parsed["kept"] == "yes")
    }
}

/// The router's request lines written directly are the lines the handler writes for the same event.
@Suite struct JSONRequestLogTests {
    static let lines: [RequestLogLine] = [
        RequestLogLine(
            level: .info, correlationID: "0c0d1663-54d3-bfdf-527b-ea9cadabb565", method: "health.live",
            durationMilliseconds: 0.006),
        RequestLogLine(
            level: .info, correlationID: "call +1 415 555 0123", method: "_unknown",
            durationMilliseconds: 12.5, errorType: "method_not_found"),
        RequestLogLine(
            level: .warning, correlationID: "req\n\"quoted\"", method: "state.get",
            durationMilliseconds: 1234.567, errorType: "not_found 4155550123"),
        RequestLogLine(level: .debug, correlationID: "é", method: "sms.send", durationMilliseconds: 0),
        RequestLogLine(
            level: .info, correlationID: "12345678", method: "state.update", durationMilliseconds: 2,
            errorType: "conflict"),
        RequestLogLine(
            level: .info, correlationID: "a/b\\c\u{7F}\u{1F}", method: "rpc.discover", durationMilliseconds: 3_600_000),
        RequestLogLine(level: .error, correlationID: "x", method: "health.check", durationMilliseconds: .nan),
        RequestLogLine(level: .info, correlationID: "", method: "", durationMilliseconds: .infinity),
    ]

    /// The line without its `time` value, which differs between two calls.
    static func withoutTime(_ line: String) -> String {
        guard let start = line.range(of: #"{"time":""#), let end = line[start.upperBound...].firstIndex(of: "\"")
        else { return line }
        return String(line[..<start.upperBound]) + String(line[end...])
    }

    @Test func directLinesAreTheHandlersLines() async {
        let generic = CapturingSink()
        let direct = CapturingSink()
        let logger = Logger(label: "jules") { label in JSONLogHandler(label: label, level: .debug, sink: generic) }
        // Inside another request's correlation id: the line's own id wins in both.
        await CorrelationID.withValue("outer-id") {
            for line in Self.lines {
                SwiftLogRequestLog(logger: logger).write(line)
                JSONRequestLog(label: "jules", sink: direct).write(line)
            }
        }
        #expect(generic.captured.count == Self.lines.count)
        #expect(generic.captured.map(Self.withoutTime) == direct.captured.map(Self.withoutTime))
        #expect(generic.immediately == direct.immediately)
        #expect(direct.captured[1].contains("+*******0123"), "the phone number in a correlation id is masked")
        #expect(!direct.captured.joined().contains("4155550123"))
    }

    /// The shortcut for strings that need neither escaping nor masking writes what the general path writes.
    @Test(arguments: [
        "", "plain", "health.live", "0c0d1663-54d3-bfdf-527b-ea9cadabb565", "1234567", "12345678", "+14155550123",
        "call 4155550123 now", "quote\"", "back\\slash", "tab\t", "del\u{7F}", "é", "a/b", "2026-11-30 12:00",
    ])
    func maskedStringsAreTheWritersStrings(_ text: String) {
        var direct: [UInt8] = []
        JSONLogHandler.appendMaskedString(text, to: &direct)
        var general: [UInt8] = []
        JSONValue.string(PhoneNumberRedaction.redact(text)).serialize(into: &general)
        #expect(direct == general)
    }
}
