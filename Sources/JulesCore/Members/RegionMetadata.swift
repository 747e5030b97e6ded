/// The dialling conventions needed to turn a national-format number of one region into E.164.
struct RegionMetadata: Sendable {
    /// The country calling code of the region.
    let callingCode: Int
    /// The digit dialled before a national number on domestic calls (`0` in most of Europe, `1` in the NANP), which
    /// is not part of the E.164 number; `nil` where there is none (Italy's leading 0 belongs to the number).
    let trunkPrefix: UInt8?
    /// Prefixes that replace `+` when dialling abroad, longest first so that Australia's `0011` wins over `00`.
    let internationalPrefixes: [[UInt8]]

    /// The ITU-recommended international prefix, used by most of the world.
    static let standardInternationalPrefix: [UInt8] = [0, 0]

    /// The metadata for an upper-case ISO code, or `nil` when the region is not supported.
    static func lookup(_ code: String) -> RegionMetadata? {
        table[code]
    }

    /// Calling codes whose national numbers never start with 0. After `+CC`, a leading 0 in these countries is the
    /// trunk prefix typed out of habit (the British "+44 (0)20 …"), so it is dropped rather than rejected.
    static let callingCodesWithTrunkZero: Set<Int> = Set(
        table.values.filter { $0.trunkPrefix == 0 }.map(\.callingCode)
    ).union(otherCallingCodesWithTrunkZero)

    /// Countries outside the region table that also dial a trunk 0 and have no national number beginning with 0,
    /// so that "+254 0712 345678" is the same number as "+254 712 345678" (not a second one that passes
    /// uniqueness). Left out on purpose: countries whose national numbers may begin with 0 (Italy, San Marino, the
    /// Vatican, Côte d'Ivoire, Benin, Gabon, Congo; and Rwanda's fixed lines and Uruguay's toll-free numbers, though
    /// both countries dial a trunk 0), and those whose trunk prefix is longer (Hungary's 06) or is not 0 (Russia,
    /// Kazakhstan and Belarus dial 8).
    private static let otherCallingCodesWithTrunkZero: Set<Int> = [
        // Africa.
        20, 27, 211, 212, 213, 218, 231, 232, 233, 234, 243, 249, 251, 254, 255, 256, 260, 261, 262, 263, 264, 265,
        // Europe.
        40, 353, 355, 358, 359, 380, 381, 382, 385, 386, 387, 389, 421,
        // The Americas: Peru, Argentina, Venezuela, Cuba, French overseas departments, Bolivia, Ecuador, Paraguay.
        51, 53, 54, 58, 590, 591, 593, 594, 595, 596,
        // Asia and Oceania.
        60, 62, 63, 64, 66, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 855, 856, 880, 886, 961, 962, 963, 964, 966,
        967, 970, 971, 972, 977, 994, 995,
    ]

    /// Regions sharing +1. They all dial `1` as trunk prefix and `011` for international calls; `00` is accepted
    /// too because people abroad write numbers that way and no NANP number starts with 0.
    private static let nanpRegions = [
        "US", "CA", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN", "KY", "LC", "MP", "MS",
        "PR", "SX", "TC", "TT", "VC", "VG", "VI",
    ]

    /// Regions whose trunk prefix is 0 and whose international prefix is plain `00`. Brazil is handled apart.
    private static let trunkZeroRegions: [(code: String, callingCode: Int)] = [
        ("GB", 44), ("DE", 49), ("FR", 33), ("NL", 31), ("BE", 32), ("CH", 41), ("AT", 43), ("IE", 353),
        ("NZ", 64), ("IN", 91), ("SE", 46), ("ZA", 27),
    ]

    /// Regions without a trunk prefix: the digits dialled domestically are the national significant number.
    /// Mexico dropped its `01`/`044`/`045` prefixes in 2019.
    private static let noTrunkRegions: [(code: String, callingCode: Int)] = [
        ("IT", 39), ("ES", 34), ("MX", 52), ("DK", 45), ("NO", 47), ("PL", 48), ("PT", 351),
    ]

    private static let table: [String: RegionMetadata] = {
        var table: [String: RegionMetadata] = [:]
        let nanp = RegionMetadata(callingCode: 1, trunkPrefix: 1, internationalPrefixes: [[0, 1, 1], [0, 0]])
        for code in nanpRegions {
            table[code] = nanp
        }
        for region in trunkZeroRegions {
            table[region.code] = RegionMetadata(
                callingCode: region.callingCode, trunkPrefix: 0, internationalPrefixes: [standardInternationalPrefix])
        }
        for region in noTrunkRegions {
            table[region.code] = RegionMetadata(
                callingCode: region.callingCode, trunkPrefix: nil, internationalPrefixes: [standardInternationalPrefix])
        }
        table["AU"] = RegionMetadata(callingCode: 61, trunkPrefix: 0, internationalPrefixes: [[0, 0, 1, 1], [0, 0]])
        // Japan's "00xx" are carrier codes followed by 010, and Brazil's "00xx" are carrier codes followed by the
        // calling code: stripping a bare 00 there could silently read "0041…" as Switzerland, so those two regions
        // only accept 010 and `+` respectively.
        table["JP"] = RegionMetadata(callingCode: 81, trunkPrefix: 0, internationalPrefixes: [[0, 1, 0]])
        table["BR"] = RegionMetadata(callingCode: 55, trunkPrefix: 0, internationalPrefixes: [])
        return table
    }()
}
