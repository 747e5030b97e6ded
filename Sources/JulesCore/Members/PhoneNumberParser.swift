/// Turns scanned digits into a calling code and national significant number (NSN), applying the default region's
/// dialling conventions and the per-country length rules.
enum PhoneNumberParser {
    /// The result of a successful parse: the calling code and the NSN digits (values 0–9).
    struct Parsed: Sendable {
        var callingCode: Int
        var nationalNumber: ArraySlice<UInt8>
    }

    static func parse(_ input: String, defaultRegion: Region) throws(PhoneNumberError) -> Parsed {
        let scanned = try InputScanner.scan(input)
        let digits = scanned.digits[...]
        if scanned.hasPlusSign {
            return try parseInternational(digits)
        }
        let metadata = RegionMetadata.lookup(defaultRegion.code)
        // Unsupported regions still get the ITU-recommended 00, so "00 44 …" parses wherever it was typed.
        let prefixes = metadata?.internationalPrefixes ?? [RegionMetadata.standardInternationalPrefix]
        if let prefix = prefixes.first(where: { digits.starts(with: $0) }) {
            return try parseInternational(digits.dropFirst(prefix.count))
        }
        guard let metadata else { throw PhoneNumberError(reason: .unsupportedRegion) }
        var national = digits
        // Ten NANP digits starting with 1 are an invalid area code, not trunk 1 plus nine digits: keeping them makes
        // the error say so instead of "too short".
        let isNANPWithoutTrunk = metadata.callingCode == 1 && national.count == 10
        if let trunkPrefix = metadata.trunkPrefix, national.first == trunkPrefix, !isNANPWithoutTrunk {
            national = national.dropFirst()
        }
        return try validated(Parsed(callingCode: metadata.callingCode, nationalNumber: national))
    }

    /// Parses the digits that follow `+` or an international prefix: calling code first, then the NSN.
    private static func parseInternational(_ digits: ArraySlice<UInt8>) throws(PhoneNumberError) -> Parsed {
        guard !digits.isEmpty else { throw PhoneNumberError(reason: .tooShort) }
        guard let match = CallingCodeTable.match(digits) else {
            throw PhoneNumberError(reason: .unknownCountryCode)
        }
        var national = digits.dropFirst(match.digitCount)
        if RegionMetadata.callingCodesWithTrunkZero.contains(match.callingCode), national.first == 0 {
            national = national.dropFirst()
        }
        return try validated(Parsed(callingCode: match.callingCode, nationalNumber: national))
    }

    /// Checks the NSN length against the country's bounds and, for +1, the NANP shape; and that a country that
    /// dials a trunk 0 does not get a national number starting with 0 (which would be a second spelling of another
    /// number, or of none: "+44 00 20 …", or "00 45 …" typed in Brazil, where 00 is not an international prefix).
    private static func validated(_ parsed: Parsed) throws(PhoneNumberError) -> Parsed {
        if parsed.nationalNumber.first == 0, RegionMetadata.callingCodesWithTrunkZero.contains(parsed.callingCode) {
            throw PhoneNumberError(reason: .nationalNumberStartsWithZero)
        }
        // Every calling code reaching here came from the table (directly or via region metadata).
        let lengths = CallingCodeTable.nationalLengths(for: parsed.callingCode) ?? 4...12
        let count = parsed.nationalNumber.count
        if count < lengths.lowerBound { throw PhoneNumberError(reason: .tooShort) }
        if count > lengths.upperBound { throw PhoneNumberError(reason: .tooLongForCountry) }
        if parsed.callingCode == 1, !NANPRules.isPlausible(parsed.nationalNumber) {
            throw PhoneNumberError(reason: .invalidNANPNumber)
        }
        return parsed
    }
}
