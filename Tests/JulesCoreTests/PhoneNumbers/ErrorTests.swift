import JulesCore
import Testing

/// Every error reason, and that error text never echoes the input.
@Suite("Errors")
struct ErrorTests {
    /// An input, its default region and the reason it must be rejected with.
    struct FailureCase: Sendable, CustomStringConvertible {
        let input: String
        let region: Region
        let reason: PhoneNumberError.Reason

        init(_ input: String, _ region: Region = .us, _ reason: PhoneNumberError.Reason) {
            self.input = input
            self.region = region
            self.reason = reason
        }

        var description: String { "\(input) [\(region)] → \(reason)" }
    }

    static let cases: [FailureCase] = [
        FailureCase("", .us, .empty),
        FailureCase("   ", .us, .empty),
        FailureCase("+", .us, .empty),
        FailureCase("( ) - .", .us, .empty),
        FailureCase(String(repeating: "1", count: 65), .us, .tooLong),
        FailureCase("1-800-FLOWERS", .us, .invalidCharacters),
        FailureCase("415 555 O123", .us, .invalidCharacters),
        FailureCase("４１５５５５０１２３", .us, .invalidCharacters),
        FailureCase("415_555_0123", .us, .invalidCharacters),
        FailureCase("x123", .us, .invalidCharacters),
        FailureCase("＋14155550123", .us, .invalidCharacters),
        FailureCase("415 555 0123 abc", .us, .invalidCharacters),
        FailureCase("++14155550123", .us, .misplacedPlusSign),
        FailureCase("1+4155550123", .us, .misplacedPlusSign),
        FailureCase("+1 415 555 0123 +1", .us, .misplacedPlusSign),
        FailureCase("415-555-0123 x123", .us, .extensionNotSupported),
        FailureCase("415-555-0123x123", .us, .extensionNotSupported),
        FailureCase("415-555-0123 ext. 123", .us, .extensionNotSupported),
        FailureCase("415-555-0123 EXT 9", .us, .extensionNotSupported),
        FailureCase("415-555-0123 extension 42", .us, .extensionNotSupported),
        FailureCase("415-555-0123 #77", .us, .extensionNotSupported),
        FailureCase("415-555-0123, ext: 5", .us, .extensionNotSupported),
        FailureCase("415-555-0123,,123", .us, .extensionNotSupported),
        FailureCase("+0 123 456 789", .us, .unknownCountryCode),
        FailureCase("+999 1234 5678", .us, .unknownCountryCode),
        FailureCase("+28 1234 5678", .us, .unknownCountryCode),
        FailureCase("00 0 1234 5678", .gb, .unknownCountryCode),
        FailureCase("911", .us, .tooShort),
        FailureCase("555 0123", .us, .tooShort),
        FailureCase("+1", .us, .tooShort),
        FailureCase("+44 79", .us, .tooShort),
        FailureCase("00", .gb, .tooShort),
        FailureCase("0791 123", .gb, .tooShort),
        FailureCase("+49 301", .us, .tooShort),
        FailureCase("415 555 01234", .us, .tooLongForCountry),
        FailureCase("+1 415 555 0123 4", .us, .tooLongForCountry),
        FailureCase("+44 7911 1234567", .us, .tooLongForCountry),
        FailureCase("06 12 34 56 78 9", .fr, .tooLongForCountry),
        FailureCase("+49 30 1234 5678 9012", .us, .tooLongForCountry),
        FailureCase("44 7911 123456", .gb, .tooLongForCountry),
        FailureCase("(911) 555-0123", .us, .invalidNANPNumber),
        FailureCase("(411) 555-0123", .us, .invalidNANPNumber),
        FailureCase("(015) 555-0123", .us, .invalidNANPNumber),
        FailureCase("(115) 555-0123", .us, .invalidNANPNumber),
        FailureCase("(415) 055-0123", .us, .invalidNANPNumber),
        FailureCase("(415) 155-0123", .us, .invalidNANPNumber),
        FailureCase("(415) 911-0123", .us, .invalidNANPNumber),
        FailureCase("+1 911 555 0123", .gb, .invalidNANPNumber),
        // Brazilian "00xx" is a carrier code, so it must not be read as "+41" (Switzerland); nor Japan's 00 as
        // an international prefix. Read as national numbers, they still start with 0 after the trunk 0.
        FailureCase("0041 44 668 18 00", .br, .nationalNumberStartsWithZero),
        FailureCase("0033 1 415 555 0123", .jp, .nationalNumberStartsWithZero),
        FailureCase("0412 345 678", region("ZZ"), .unsupportedRegion),
        // A second 0 after the country code is not dropped: no number there starts with 0, so it is a mistake.
        FailureCase("+44 00 20 7946 0958", .us, .nationalNumberStartsWithZero),
        FailureCase("+358 00 40 123 4567", .us, .nationalNumberStartsWithZero),
        // In Brazil 00 is no international prefix: one trunk 0 is dropped and the number left starts with 0.
        FailureCase("00 45 1234 5678", .br, .nationalNumberStartsWithZero),
        FailureCase("030 1234567", region("KZ"), .unsupportedRegion),
    ]

    @Test("rejects with the expected reason", arguments: cases)
    func rejects(_ testCase: FailureCase) {
        let error = #expect(throws: PhoneNumberError.self) {
            try PhoneNumber(parsing: testCase.input, defaultRegion: testCase.region)
        }
        #expect(error?.reason == testCase.reason)
        #expect(error == PhoneNumberError(reason: testCase.reason))
    }

    @Test("error descriptions never contain the input's digits", arguments: cases)
    func descriptionsDoNotLeakDigits(_ testCase: FailureCase) {
        let digits = testCase.input.filter(\.isWholeNumber)
        guard let reason = failureReason(testCase.input, region: testCase.region) else {
            Issue.record("expected a failure")
            return
        }
        let text = "\(PhoneNumberError(reason: reason)) \(reason)"
        // No run of three or more input digits may appear (the length message legitimately says "64").
        for start in digits.indices where digits.distance(from: start, to: digits.endIndex) >= 3 {
            let run = digits[start...].prefix(3)
            #expect(!text.contains(run), "error text contains input digits \(run)")
        }
    }

    @Test("the only digits in any error text are the documented limit")
    func errorTextDigits() {
        let reasons: [PhoneNumberError.Reason] = [
            .empty, .tooLong, .invalidCharacters, .misplacedPlusSign, .extensionNotSupported, .unknownCountryCode,
            .tooShort, .tooLongForCountry, .invalidNANPNumber, .unsupportedRegion, .nationalNumberStartsWithZero,
        ]
        for reason in reasons {
            let digits = PhoneNumberError(reason: reason).description.filter(\.isNumber)
            #expect(digits.isEmpty || digits == "64", "\(reason)")
        }
        #expect(Set(reasons.map(\.description)).count == reasons.count, "each reason has its own message")
    }

    @Test("the 64-character limit is checked on characters, before anything else")
    func lengthLimit() throws {
        let padded = "+1 415 555 0123" + String(repeating: " ", count: 64 - 15)
        #expect(padded.count == 64)
        #expect(try PhoneNumber(parsing: padded).e164 == "+14155550123")
        #expect(failureReason(padded + " ") == .tooLong)
        // Even invalid characters report the length first: the limit applies before any other work.
        #expect(failureReason(String(repeating: "x", count: 1_000_000)) == .tooLong)
        #expect(failureReason(String(repeating: "\u{E9}", count: 40)) == .invalidCharacters)
    }
}
