import JulesCore
import Testing

/// National-format numbers (no `+`) in every supported default region.
@Suite("National formats")
struct NationalFormatTests {
    static let cases: [ParseCase] = [
        // NANP: optional trunk 1, any punctuation.
        ParseCase("(415) 555-0123", .us, "+14155550123"),
        ParseCase("415.555.0123", .us, "+14155550123"),
        ParseCase("1-415-555-0123", .us, "+14155550123"),
        ParseCase("1 (212) 555 0199", .us, "+12125550199"),
        ParseCase("4155550123", .us, "+14155550123"),
        ParseCase("415/555-0123", .us, "+14155550123"),
        ParseCase("  415 555 0123\n", .us, "+14155550123"),
        ParseCase("(604) 555-0101", .ca, "+16045550101"),
        ParseCase("1 416 555 0199", .ca, "+14165550199"),
        ParseCase("876 555 0100", region("JM"), "+18765550100"),
        ParseCase("787-555-0100", region("pr"), "+17875550100"),
        // United Kingdom: trunk 0.
        ParseCase("07911 123456", .gb, "+447911123456"),
        ParseCase("020 7946 0958", .gb, "+442079460958"),
        ParseCase("(0161) 496 0000", .gb, "+441614960000"),
        // Germany.
        ParseCase("030 1234567", .de, "+49301234567"),
        ParseCase("0151 23456789", .de, "+4915123456789"),
        ParseCase("089/12345678", .de, "+498912345678"),
        // France.
        ParseCase("06 12 34 56 78", .fr, "+33612345678"),
        ParseCase("01.23.45.67.89", .fr, "+33123456789"),
        // Italy keeps its leading 0; mobiles start with 3.
        ParseCase("06 1234 5678", .it, "+390612345678"),
        ParseCase("02 1234567", .it, "+39021234567"),
        ParseCase("333 123 4567", .it, "+393331234567"),
        // Spain has no trunk prefix.
        ParseCase("612 34 56 78", .es, "+34612345678"),
        ParseCase("91 123 45 67", .es, "+34911234567"),
        // Netherlands, Belgium, Switzerland, Austria, Ireland.
        ParseCase("06 12345678", .nl, "+31612345678"),
        ParseCase("020-123 4567", .nl, "+31201234567"),
        ParseCase("0470 12 34 56", .be, "+32470123456"),
        ParseCase("02 123 45 67", .be, "+3221234567"),
        ParseCase("044 668 18 00", .ch, "+41446681800"),
        ParseCase("079 123 45 67", .ch, "+41791234567"),
        ParseCase("01 234 5678", .at, "+4312345678"),
        ParseCase("0664 1234567", .at, "+436641234567"),
        ParseCase("087 123 4567", .ie, "+353871234567"),
        ParseCase("01 234 5678", .ie, "+35312345678"),
        // Australia, New Zealand.
        ParseCase("0412 345 678", .au, "+61412345678"),
        ParseCase("(02) 9876 5432", .au, "+61298765432"),
        ParseCase("021 123 4567", .nz, "+64211234567"),
        ParseCase("09 123 4567", .nz, "+6491234567"),
        // India: trunk 0 optional.
        ParseCase("098765 43210", .in, "+919876543210"),
        ParseCase("98765 43210", .in, "+919876543210"),
        // Japan.
        ParseCase("03-1234-5678", .jp, "+81312345678"),
        ParseCase("090-1234-5678", .jp, "+819012345678"),
        // Brazil, Mexico.
        ParseCase("(11) 91234-5678", .br, "+5511912345678"),
        ParseCase("011 91234 5678", .br, "+5511912345678"),
        ParseCase("(21) 2345-6789", .br, "+552123456789"),
        ParseCase("55 1234 5678", .mx, "+525512345678"),
        ParseCase("33 1234 5678", .mx, "+523312345678"),
        // Extra regions with dialling rules.
        ParseCase("070-123 45 67", region("SE"), "+46701234567"),
        ParseCase("12 34 56 78", region("DK"), "+4512345678"),
        ParseCase("412 34 567", region("NO"), "+4741234567"),
        ParseCase("512 345 678", region("PL"), "+48512345678"),
        ParseCase("912 345 678", region("PT"), "+351912345678"),
        ParseCase("082 123 4567", region("ZA"), "+27821234567"),
    ]

    @Test("parses national format", arguments: cases)
    func parsesNationalFormat(_ testCase: ParseCase) throws {
        let number = try PhoneNumber(parsing: testCase.input, defaultRegion: testCase.region)
        #expect(number.e164 == testCase.e164)
        #expect(testCase.region.countryCallingCode == number.countryCallingCode)
    }

    @Test("re-parsing the E.164 form is the identity", arguments: cases)
    func reparsesE164(_ testCase: ParseCase) throws {
        let number = try PhoneNumber(parsing: testCase.input, defaultRegion: testCase.region)
        // A different default region proves the `+` form does not depend on it.
        let again = try PhoneNumber(parsing: number.e164, defaultRegion: .jp)
        #expect(again == number)
    }
}
