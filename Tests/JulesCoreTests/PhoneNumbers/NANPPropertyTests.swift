import JulesCore
import Testing

/// Property-style check: random valid NANP numbers written in several styles all parse to the same E.164 number.
@Suite("NANP properties")
struct NANPPropertyTests {
    /// SplitMix64: tiny, seedable and deterministic, so a failure reproduces from its seed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }
    }

    /// A random NXX code: first digit 2–9 and not an N11 service code.
    static func randomNXX(using generator: inout SplitMix64) -> String {
        while true {
            let code = Int.random(in: 200...999, using: &generator)
            if code % 100 != 11 { return String(code) }
        }
    }

    @Test("five styles of a random valid number agree", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func stylesAgree(seed: UInt64) throws {
        var generator = SplitMix64(state: seed)
        for _ in 0..<60 {
            let area = Self.randomNXX(using: &generator)
            let exchange = Self.randomNXX(using: &generator)
            let line = String(Int.random(in: 10_000...19_999, using: &generator)).dropFirst()
            let expected = "+1\(area)\(exchange)\(line)"
            let styles = [
                "+1 (\(area)) \(exchange)-\(line)",
                "\(area).\(exchange).\(line)",
                "1-\(area)-\(exchange)-\(line)",
                "+1\(area)\(exchange)\(line)",
                "011 1 \(area) \(exchange) \(line)",
                "(\(area)) \(exchange) \(line)",
            ]
            for style in styles {
                let number = try PhoneNumber(parsing: style, defaultRegion: .us)
                #expect(number.e164 == expected, "seed \(seed): \(style)")
                #expect(number.masked == "+1******\(line)")
            }
            let fromUK = try PhoneNumber(parsing: "00 1 \(area) \(exchange) \(line)", defaultRegion: .gb)
            #expect(fromUK.e164 == expected)
        }
    }
}
