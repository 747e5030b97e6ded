/// Assigned country calling codes and the allowed lengths of the national significant number (NSN) behind each.
///
/// Hand-written and deliberately compact: ranges cover fixed and mobile numbers and are generous where a country's
/// numbering plan varies. Codes listed in ``ituBoundsCodes`` are known to be assigned but get only ITU's general
/// bounds (NSN at least 4 digits, whole E.164 number at most 15).
enum CallingCodeTable {
    /// Finds the calling code at the start of `digits`.
    ///
    /// Calling codes form a prefix-free set by ITU design, so trying 1, 2 then 3 digits finds at most one match.
    static func match(_ digits: ArraySlice<UInt8>) -> (callingCode: Int, digitCount: Int)? {
        // No calling code starts with 0; without this check "+01…" would be read as code 1.
        guard let first = digits.first, first != 0 else { return nil }
        var code = 0
        for (offset, digit) in digits.prefix(3).enumerated() {
            code = code * 10 + Int(digit)
            if nationalLengths(for: code) != nil {
                return (code, offset + 1)
            }
        }
        return nil
    }

    /// The allowed NSN lengths for an assigned calling code, or `nil` if the code is unknown.
    static func nationalLengths(for callingCode: Int) -> ClosedRange<Int>? {
        if let lengths = specificLengths[callingCode] {
            return lengths
        }
        guard ituBoundsCodes.contains(callingCode) else { return nil }
        let codeDigits = callingCode < 10 ? 1 : callingCode < 100 ? 2 : 3
        return 4...(15 - codeDigits)
    }

    /// All calling codes the table knows, for tests and diagnostics.
    static var allCallingCodes: Set<Int> { Set(specificLengths.keys).union(ituBoundsCodes) }

    /// Per-country NSN lengths, grouped by ITU world zone.
    private static let specificLengths: [Int: ClosedRange<Int>] = [
        // Zone 1 (NANP) and zone 7 (Russia, Kazakhstan).
        1: 10...10, 7: 10...10,
        // Zone 2: Africa.
        20: 8...10, 27: 9...9, 212: 9...9, 213: 8...9, 216: 8...8, 218: 8...9, 220: 7...7, 221: 9...9,
        225: 10...10, 233: 9...9, 234: 7...10, 237: 9...9, 243: 9...9, 244: 9...9, 250: 9...9, 251: 9...9,
        254: 8...10, 255: 9...9, 256: 9...9, 260: 9...9, 263: 8...10,
        // Zones 3 and 4: Europe.
        30: 10...10, 31: 9...9, 32: 8...9, 33: 9...9, 34: 9...9, 36: 8...9, 39: 6...11, 40: 9...9, 41: 9...9,
        43: 4...13, 44: 7...10, 45: 8...8, 46: 7...13, 47: 8...8, 48: 9...9, 49: 5...13, 351: 9...9,
        352: 4...11, 353: 7...9, 354: 7...9, 355: 8...9, 356: 8...8, 357: 8...8, 358: 5...12, 359: 7...9,
        370: 8...8, 371: 8...8, 372: 7...8, 373: 8...8, 374: 8...8, 375: 9...10, 376: 6...9, 377: 8...9,
        380: 9...9, 381: 8...10, 382: 8...8, 385: 8...9, 386: 8...8, 387: 8...9, 389: 8...8, 420: 9...9,
        421: 9...9,
        // Zone 5: Latin America.
        51: 8...9, 52: 10...10, 53: 6...8, 54: 10...11, 55: 10...11, 56: 9...9, 57: 10...10, 58: 10...10,
        // Zone 6: Southeast Asia and Oceania.
        60: 8...10, 61: 9...9, 62: 7...12, 63: 8...10, 64: 8...10, 65: 8...8, 66: 8...9,
        // Zone 8: East Asia.
        81: 9...10, 82: 8...10, 84: 9...10, 86: 9...11, 852: 8...8, 853: 8...8, 855: 8...9, 880: 8...10,
        886: 8...9,
        // Zone 9: West, Central and South Asia.
        90: 10...10, 91: 10...10, 92: 9...10, 93: 9...9, 94: 9...9, 95: 7...10, 98: 10...10, 960: 7...7,
        961: 7...8, 962: 8...9, 963: 8...9, 964: 8...10, 965: 8...8, 966: 8...9, 967: 7...9, 968: 8...8,
        970: 8...9, 971: 8...9, 972: 8...9, 973: 8...8, 974: 7...8, 975: 7...8, 976: 8...8, 977: 8...10,
    ]

    /// Assigned codes whose national lengths are not tabulated here; checked against ITU's general bounds only.
    private static let ituBoundsCodes: Set<Int> = [
        211, 222, 223, 224, 226, 227, 228, 229, 230, 231, 232, 235, 236, 238, 239, 240, 241, 242, 245, 246, 247,
        248, 249, 252, 253, 257, 258, 261, 262, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299, 350, 378,
        383, 423, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598,
        599, 670, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691,
        692, 850, 856, 992, 993, 994, 995, 996, 998,
    ]
}
