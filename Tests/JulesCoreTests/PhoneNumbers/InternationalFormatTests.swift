import JulesCore
import Testing

/// Numbers written with `+` or an international prefix.
@Suite("International formats")
struct InternationalFormatTests {
    static let cases: [ParseCase] = [
        ParseCase("+1 (415) 555-0123", .us, "+14155550123"),
        ParseCase("+14155550123", .gb, "+14155550123"),
        ParseCase("001 415 555 0123", .gb, "+14155550123"),
        ParseCase("011 1 415 555 0123", .us, "+14155550123"),
        ParseCase("011 44 20 7946 0958", .ca, "+442079460958"),
        ParseCase("0011 44 7911 123456", .au, "+447911123456"),
        ParseCase("010 1 415 555 0123", .jp, "+14155550123"),
        ParseCase("0049 30 1234567", .fr, "+49301234567"),
        ParseCase("00 33 6 12 34 56 78", region("ZZ"), "+33612345678"),
        // The British habit of writing the trunk 0 after the calling code.
        ParseCase("+44 (0)20 7946 0958", .us, "+442079460958"),
        ParseCase("+49 (0)30 1234567", .us, "+49301234567"),
        // Italy's leading 0 is part of the number and must survive.
        ParseCase("+39 06 1234 5678", .us, "+390612345678"),
        ParseCase("+7 912 345 67 89", .us, "+79123456789"),
        ParseCase("+20 10 1234 5678", .us, "+201012345678"),
        ParseCase("+27 82 123 4567", .us, "+27821234567"),
        ParseCase("+30 21 0123 4567", .us, "+302101234567"),
        ParseCase("+34 612 34 56 78", .us, "+34612345678"),
        ParseCase("+36 1 234 5678", .us, "+3612345678"),
        ParseCase("+40 721 234 567", .us, "+40721234567"),
        ParseCase("+45 12 34 56 78", .us, "+4512345678"),
        ParseCase("+46 70 123 45 67", .us, "+46701234567"),
        ParseCase("+48 512 345 678", .us, "+48512345678"),
        ParseCase("+52 55 1234 5678", .us, "+525512345678"),
        ParseCase("+54 9 11 1234 5678", .us, "+5491112345678"),
        ParseCase("+55 11 91234 5678", .us, "+5511912345678"),
        ParseCase("+56 9 1234 5678", .us, "+56912345678"),
        ParseCase("+57 301 234 5678", .us, "+573012345678"),
        ParseCase("+60 12 345 6789", .us, "+60123456789"),
        ParseCase("+61 412 345 678", .us, "+61412345678"),
        ParseCase("+62 812 3456 7890", .us, "+6281234567890"),
        ParseCase("+63 917 123 4567", .us, "+639171234567"),
        ParseCase("+65 6123 4567", .us, "+6561234567"),
        ParseCase("+66 81 234 5678", .us, "+66812345678"),
        ParseCase("+81 90 1234 5678", .us, "+819012345678"),
        ParseCase("+82 10 1234 5678", .us, "+821012345678"),
        ParseCase("+84 91 234 56 78", .us, "+84912345678"),
        ParseCase("+86 138 0013 8000", .us, "+8613800138000"),
        ParseCase("+90 532 123 45 67", .us, "+905321234567"),
        ParseCase("+91 98765 43210", .us, "+919876543210"),
        ParseCase("+92 300 1234567", .us, "+923001234567"),
        ParseCase("+98 912 345 6789", .us, "+989123456789"),
        ParseCase("+212 6 12 34 56 78", .us, "+212612345678"),
        ParseCase("+233 24 123 4567", .us, "+233241234567"),
        ParseCase("+234 803 123 4567", .us, "+2348031234567"),
        ParseCase("+254 712 345678", .us, "+254712345678"),
        ParseCase("+255 712 345 678", .us, "+255712345678"),
        ParseCase("+256 772 123456", .us, "+256772123456"),
        ParseCase("+351 912 345 678", .us, "+351912345678"),
        ParseCase("+353 87 123 4567", .us, "+353871234567"),
        ParseCase("+359 2 123 4567", .us, "+35921234567"),
        ParseCase("+370 612 34567", .us, "+37061234567"),
        ParseCase("+380 50 123 4567", .us, "+380501234567"),
        ParseCase("+420 601 123 456", .us, "+420601123456"),
        ParseCase("+421 912 123 456", .us, "+421912123456"),
        ParseCase("+852 5123 4567", .us, "+85251234567"),
        ParseCase("+853 6612 3456", .us, "+85366123456"),
        ParseCase("+855 12 345 678", .us, "+85512345678"),
        ParseCase("+880 1812 345678", .us, "+8801812345678"),
        ParseCase("+886 912 345 678", .us, "+886912345678"),
        ParseCase("+966 50 123 4567", .us, "+966501234567"),
        ParseCase("+971 50 123 4567", .us, "+971501234567"),
        ParseCase("+972 50 123 4567", .us, "+972501234567"),
        ParseCase("+974 3312 3456", .us, "+97433123456"),
        // A code with only ITU's general bounds.
        ParseCase("+506 8312 3456", .us, "+50683123456"),
    ]

    @Test("parses international format", arguments: cases)
    func parsesInternationalFormat(_ testCase: ParseCase) throws {
        let number = try PhoneNumber(parsing: testCase.input, defaultRegion: testCase.region)
        #expect(number.e164 == testCase.e164)
        #expect(number.e164.hasPrefix("+\(number.countryCallingCode)"))
    }

    @Test("the default region is irrelevant after +", arguments: [Region.us, .gb, .it, .jp, region("ZZ")])
    func defaultRegionIgnoredAfterPlus(_ defaultRegion: Region) throws {
        let number = try PhoneNumber(parsing: "+44 7911 123456", defaultRegion: defaultRegion)
        #expect(number.e164 == "+447911123456")
        #expect(number.countryCallingCode == 44)
    }
}
