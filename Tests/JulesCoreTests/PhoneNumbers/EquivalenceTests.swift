import JulesCore
import Testing

/// Different ways of writing the same number must produce the same value.
@Suite("Equivalence")
struct EquivalenceTests {
    /// Inputs that must all be `+14155550123`, with the region each is typed in.
    static let sanFrancisco: [ParseCase] = [
        ParseCase("+1 (415) 555-0123", .us, "+14155550123"),
        ParseCase("415.555.0123", .us, "+14155550123"),
        ParseCase("1-415-555-0123", .us, "+14155550123"),
        ParseCase("+14155550123", .us, "+14155550123"),
        ParseCase("001 415 555 0123", .gb, "+14155550123"),
        ParseCase("011 1 415 555 0123", .us, "+14155550123"),
        ParseCase("(415) 555-0123", .ca, "+14155550123"),
        ParseCase("0011 1 415 555 0123", .au, "+14155550123"),
    ]

    /// Inputs that must all be `+447911123456`.
    static let londonMobile: [ParseCase] = [
        ParseCase("07911 123456", .gb, "+447911123456"),
        ParseCase("+44 7911 123456", .us, "+447911123456"),
        ParseCase("+44 (0)7911 123456", .us, "+447911123456"),
        ParseCase("0044 7911 123456", .de, "+447911123456"),
        ParseCase("011 44 7911 123456", .us, "+447911123456"),
        ParseCase("0011-44-7911-123456", .au, "+447911123456"),
    ]

    @Test("equivalent inputs give the same number", arguments: [sanFrancisco, londonMobile])
    func equivalentInputs(_ group: [ParseCase]) throws {
        var numbers: Set<PhoneNumber> = []
        for testCase in group {
            let number = try PhoneNumber(parsing: testCase.input, defaultRegion: testCase.region)
            #expect(number.e164 == testCase.e164, "\(testCase)")
            numbers.insert(number)
        }
        #expect(numbers.count == 1)
    }

    @Test(
        "a trunk 0 typed after the calling code is dropped outside the region table too",
        arguments: [
            ("+254 712 345678", "+254 0712 345678", "+254712345678"),
            ("+86 10 1234 5678", "+86 010 1234 5678", "+861012345678"),
            ("+60 12-345 6789", "+60 012-345 6789", "+60123456789"),
            ("+62 812 3456 7890", "+62 0812 3456 7890", "+6281234567890"),
            ("+20 2 1234 5678", "+20 02 1234 5678", "+20212345678"),
            ("+358 40 123 4567", "+358 040 123 4567", "+358401234567"),
            ("+40 721 234 567", "+40 0721 234 567", "+40721234567"),
            ("+385 91 234 5678", "+385 091 234 5678", "+385912345678"),
            ("+590 690 12 34 56", "+590 0690 12 34 56", "+590690123456"),
            ("+211 912 345 678", "+211 0912 345 678", "+211912345678"),
            ("+995 555 12 34 56", "+995 0555 12 34 56", "+995555123456"),
        ])
    func trunkZeroAfterTheCallingCode(_ plain: String, _ withZero: String, _ e164: String) throws {
        let first = try PhoneNumber(parsing: plain, defaultRegion: .us)
        let second = try PhoneNumber(parsing: withZero, defaultRegion: .us)
        #expect(first.e164 == e164)
        #expect(second == first, "one number, so one blind index")
    }

    @Test("Italy's leading 0 belongs to the number")
    func italianZeroIsKept() throws {
        #expect(try PhoneNumber(parsing: "+39 06 1234 5678", defaultRegion: .us).e164 == "+390612345678")
    }

    @Test(
        "where national numbers may begin with 0, the 0 after the calling code is kept",
        arguments: [
            ("+378 0549 123456", "+3780549123456"),
            ("+225 07 12 34 56 78", "+2250712345678"),
            ("+229 01 97 12 34 56", "+2290197123456"),
            ("+241 06 12 34 56", "+24106123456"),
            ("+242 06 123 4567", "+242061234567"),
        ])
    func significantZeroIsKept(_ input: String, _ e164: String) throws {
        #expect(try PhoneNumber(parsing: input, defaultRegion: .us).e164 == e164)
    }

    @Test("region codes are case-insensitive and validated")
    func regionCodes() {
        #expect(Region(code: "gb") == .gb)
        #expect(Region(code: "Gb") == .gb)
        #expect(Region(code: "IN") == .in)
        #expect(Region(code: "ZZ")?.isSupported == false)
        #expect(Region(code: "ZZ")?.countryCallingCode == nil)
        #expect(Region.it.countryCallingCode == 39)
        for invalid in ["", "G", "GBR", "G1", "é1", "ÉÉ", " G", "１２"] {
            #expect(Region(code: invalid) == nil, "\(invalid)")
        }
        let supported: [Region] = [
            .us, .ca, .gb, .de, .fr, .it, .es, .nl, .be, .ch, .at, .ie, .au, .nz, .in, .jp, .br, .mx,
        ]
        #expect(supported.allSatisfy { $0.isSupported })
        #expect(Set(supported).count == supported.count)
    }
}
