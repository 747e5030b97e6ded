/// Plausibility rules for North American Numbering Plan (+1) national numbers.
enum NANPRules {
    /// Whether `nationalNumber` has the NANP shape NXX-NXX-XXXX.
    ///
    /// The area code and the exchange must start with 2–9 (0 and 1 would be read as operator and trunk prefixes)
    /// and must not be N11 service codes such as 911 or 411, which are never assigned as area codes or exchanges.
    /// Fictional 555-01XX numbers pass on purpose: tests and demos use them.
    static func isPlausible(_ nationalNumber: ArraySlice<UInt8>) -> Bool {
        let digits = Array(nationalNumber)
        guard digits.count == 10 else { return false }
        return isAssignableCode(digits[0], digits[1], digits[2]) && isAssignableCode(digits[3], digits[4], digits[5])
    }

    private static func isAssignableCode(_ first: UInt8, _ second: UInt8, _ third: UInt8) -> Bool {
        first >= 2 && !(second == 1 && third == 1)
    }
}
