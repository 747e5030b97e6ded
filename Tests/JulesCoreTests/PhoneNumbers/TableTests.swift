import Testing

@testable import JulesCore

/// Consistency of the hand-written tables.
@Suite("Tables")
struct TableTests {
    @Test("calling codes are prefix-free, so the first match is the only one")
    func prefixFree() {
        let codes = CallingCodeTable.allCallingCodes.map(String.init)
        for code in codes {
            for other in codes where other != code {
                #expect(!other.hasPrefix(code), "\(code) is a prefix of \(other)")
            }
        }
    }

    @Test("every code allows at least 4 national digits and at most 15 in total")
    func ituBounds() throws {
        for code in CallingCodeTable.allCallingCodes {
            let lengths = try #require(CallingCodeTable.nationalLengths(for: code))
            #expect(lengths.lowerBound >= 4, "\(code)")
            #expect(String(code).count + lengths.upperBound <= 15, "\(code)")
        }
    }

    @Test("the required calling codes are present")
    func requiredCodes() {
        let required =
            [1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 81, 82, 84, 86, 212, 213]
            + [216, 218, 233, 234, 254, 255, 256, 420, 421, 852, 853, 855, 880, 886, 966, 971, 972, 974]
            + Array(51...58) + Array(60...66) + Array(90...95) + [98] + Array(351...359)
        for code in required {
            #expect(CallingCodeTable.nationalLengths(for: code) != nil, "\(code)")
        }
    }

    @Test("every supported region's calling code is in the table")
    func regionsUseKnownCodes() {
        for code in ["US", "CA", "JM", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "IE", "AU", "NZ"]
            + ["IN", "JP", "BR", "MX", "SE", "DK", "NO", "PL", "PT", "ZA"]
        {
            let metadata = RegionMetadata.lookup(code)
            #expect(metadata.flatMap { CallingCodeTable.nationalLengths(for: $0.callingCode) } != nil, "\(code)")
        }
        #expect(!RegionMetadata.callingCodesWithTrunkZero.contains(39), "Italy's leading 0 is significant")
    }

    @Test("calling codes with a trunk 0 are known codes, and none is a country whose numbers may start with 0")
    func trunkZeroCodes() {
        for code in RegionMetadata.callingCodesWithTrunkZero {
            #expect(CallingCodeTable.nationalLengths(for: code) != nil, "\(code)")
        }
        // Italy, San Marino, the Vatican, Côte d'Ivoire, Benin, Gabon, Congo, Rwanda, Uruguay; Hungary's trunk
        // prefix is 06.
        for code in [39, 378, 379, 225, 229, 241, 242, 250, 598, 36] {
            #expect(!RegionMetadata.callingCodesWithTrunkZero.contains(code), "\(code)")
        }
    }

    @Test(
        "codes added for overseas territories and newer states are known",
        arguments: [211, 590, 594, 596, 599, 670, 687, 689])
    func newerCodes(_ code: Int) {
        #expect(CallingCodeTable.nationalLengths(for: code) != nil)
    }
}
