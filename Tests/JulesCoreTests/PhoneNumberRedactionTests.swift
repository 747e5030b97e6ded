import JSONRPC
import Logging
import Testing

@testable import JulesCore

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
        // Beside other numbers, words and punctuation: the number is masked, what is glued to it kept.
        ("failed for +14155550123: timeout", "failed for +*******0123: timeout"),
        ("sent +14155550123 5s later", "sent +*******0123 5s later"),
        ("+14155550123 5000ms", "+*******0123 5000ms"),
        ("numbers +14155550123 12345", "numbers +*******0123 12345"),
        ("4155550123 4155550124", "******0123 ******0124"),
        ("+1 415 555 0123x", "+*******0123x"),
        ("+14155550123abc", "+*******0123abc"),
        ("4155550123:1", "******0123:1"),
        ("2026-11-29 4155550123", "2026-**********0123"),
        // Separators people and programs write.
        ("415 - 555 - 0123", "******0123"),
        ("+1 - 415 - 555 - 0123", "+*******0123"),
        ("415\u{2013}555\u{2013}0123", "******0123"),
        ("415\u{00A0}555\u{00A0}0123", "******0123"),
        ("415_555_0123", "******0123"),
        ("\u{201C}+14155550123\u{201D}", "\u{201C}+*******0123\u{201D}"),
        ("\u{2192}+14155550123", "\u{2192}+*******0123"),
        // In a client's correlation id or another identifier.
        ("otp-14155550123", "otp-*******0123"),
        ("user_14155550123", "user_*******0123"),
        ("id.4155550123", "id.******0123"),
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
        "550E8400-E29B-41D4-A716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "192.168.100.200 10.0.0.1",
        "0.1234567890 and 3.14159265358979",
        "29.11.2026 13:06",
        "2026/11/29 13:06",
        "caf\u{E9}1234567890",
    ])
    func otherTextIsLeftAlone(input: String) throws {
        let logged = try Self.logged(input)
        #expect(logged.message == input)
        #expect(logged.value == input)
    }
}

/// Metadata keys, nested ones included, are masked like values.
@Suite struct PhoneNumberKeyRedactionTests {
    @Test func keysAreMasked() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .info, sink: sink) }
        logger.info("replies", metadata: ["+14155550123": "yes", "by_member": ["4155550124": "no"]])
        let line = try #require(sink.captured.first)
        #expect(!line.contains("4155550123") && !line.contains("4155550124"))
        let parsed = try JSONParser.parse(line)
        #expect(parsed["+*******0123"]?.stringValue == "yes")
        #expect(parsed["by_member"]?["******0124"]?.stringValue == "no")
    }
}

/// The quick check that skips most text never skips text with a number in it, and ids the router makes are never
/// masked.
@Suite struct PhoneNumberRedactionPrecheckTests {
    @Test func precheckNeverSkipsANumber() {
        let pieces = [
            "0", "1", "4", "5", "9", "12", "415", "5550123", "+", " ", "-", ".", "(", ")", "/", "_", ":", ",", "a", "x",
            "\u{00A0}", "\u{2013}", "\u{2212}", "\u{E9}", "\u{201C}", "T", "  ",
        ]
        var generator = SystemRandomNumberGenerator()
        var masked = 0
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 4...24, using: &generator)).map { _ in
                pieces.randomElement(using: &generator)!
            }.joined()
            let withPrecheck = PhoneNumberRedaction.redact(text)
            #expect(withPrecheck == PhoneNumberRedaction.redact(text, precheck: false), "\(text)")
            if withPrecheck != text { masked += 1 }
        }
        // The generator does produce numbers, so the comparison above is not only of unmasked text.
        #expect(masked > 100)
    }

    @Test func generatedCorrelationIDsAreLeftAlone() {
        for _ in 0..<2_000 {
            let id = CorrelationID.generate()
            #expect(PhoneNumberRedaction.redact(id) == id)
        }
    }
}
