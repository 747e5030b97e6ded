import JSONRPC
import JulesCore
import Logging
import Testing

/// The log handler masks phone-number-like text wherever it appears, and leaves ids, times and counts alone.
@Suite struct PhoneNumberRedactionTests {
    static func logged(_ text: String) throws -> (message: String, value: String, error: String) {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .info, sink: sink) }
        struct Failure: Error, CustomStringConvertible { let description: String }
        logger.info(
            "\(text)",
            error: Failure(description: text),
            metadata: ["value": .string(text), "nested": .array([.string(text)])]
        )
        let line = try JSONParser.parse(try #require(sink.captured.first))
        #expect(line["nested"]?.arrayValue?.first == line["value"])
        return (
            try #require(line["message"]?.stringValue), try #require(line["value"]?.stringValue),
            try #require(line["error"]?.stringValue)
        )
    }

    @Test(arguments: [
        ("+14155550123", "+*******0123"),
        ("call +1 (415) 555-0123 now", "call +*******0123 now"),
        ("(415) 555-0123", "(******0123"),
        ("415.555.0123", "******0123"),
        ("phone=4155550123,", "phone=******0123,"),
        ("+44 7911 123456", "+********3456"),
        ("0044 7911 123456 and +49 30 12345678", "**********3456 and +********5678"),
        (#"{"phone":"+14155550123"}"#, #"{"phone":"+*******0123"}"#),
    ])
    func phoneNumbersAreMasked(input: String, expected: String) throws {
        let logged = try Self.logged(input)
        #expect(logged.message == expected)
        #expect(logged.value == expected)
        #expect(logged.error == expected)
    }

    @Test(arguments: [
        "550e8400-e29b-41d4-a716-446655440000",
        "50a8df66-807a-f7e4-4944-123456789012",
        "2026-11-29T13:06:23.123Z",
        "2026-11-29 13:06:23",
        "SM0123456789abcdef0123456789abcdef",
        "order 1234567 of 1234567",
        "10.0.0.1 and 192.168.100.200",
        "version 1.2.3, 12 rows in 34 ms",
        "+1234567",
        "1234567890123456789",
        "/var/lib/12345678901/file",
        "c23877132dbe3d4f",
    ])
    func otherTextIsLeftAlone(input: String) throws {
        let logged = try Self.logged(input)
        #expect(logged.message == input)
        #expect(logged.value == input)
    }
}
