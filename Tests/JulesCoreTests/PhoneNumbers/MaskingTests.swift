import JulesCore
import Testing

/// Masking, and that every way of printing a number shows only the masked form.
@Suite("Masking")
struct MaskingTests {
    @Test(
        "keeps +, the calling code and the last four digits",
        arguments: [
            ("+1 415 555 0123", "+1******0123"),
            ("+44 7911 123456", "+44******3456"),
            ("+44 20 7946 0958", "+44******0958"),
            ("+353 87 123 4567", "+353*****4567"),
            ("+39 06 1234 5678", "+39******5678"),
            ("+49 151 23456789", "+49*******6789"),
            // Short national numbers reveal at most half of their digits.
            ("+43 1234", "+43**34"),
            ("+354 123 4567", "+354****567"),
        ])
    func masks(_ input: String, _ expected: String) throws {
        let number = try PhoneNumber(parsing: input)
        #expect(number.masked == expected)
        #expect(number.masked.count == number.e164.count)
    }

    @Test("printing shows only the masked form")
    func printingIsMasked() throws {
        let number = try PhoneNumber(parsing: "(415) 555-0123")
        #expect(number.description == "+1******0123")
        #expect("\(number)" == "+1******0123")
        #expect("texting \(number) now" == "texting +1******0123 now")
        #expect(String(describing: number) == "+1******0123")
        #expect(String(reflecting: number) == "PhoneNumber(+1******0123)")
        #expect(!"\([number])".contains("555"))
        #expect(!"\(Optional(number) as Any)".contains("555"))
        var dumped = ""
        dump(number, to: &dumped)
        #expect(!dumped.contains("555"))
        #expect(dumped.contains("+1******0123"))
    }
}
