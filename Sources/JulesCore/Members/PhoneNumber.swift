/// A validated phone number in E.164 form.
///
/// Printing a `PhoneNumber` (string interpolation, `print`, `dump`, `String(reflecting:)`) shows only the
/// ``masked`` form, so a number logged by accident does not leak; read ``e164`` explicitly to send messages.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The number in E.164 form: `+`, the calling code and the national significant number, e.g. `"+14155550123"`.
    public let e164: String
    /// The country calling code, e.g. `1` for the NANP or `44` for the United Kingdom.
    public let countryCallingCode: Int

    /// Parses a number as a person would type it.
    ///
    /// Numbers starting with `+` or the default region's international prefix (`00` in most regions, also `011`
    /// in the NANP and `0011` in Australia; `010` only in Japan; none but `+` in Brazil) are read as international;
    /// anything else as a national number of `defaultRegion`, with its trunk prefix (`0`, or `1` in the NANP)
    /// removed. Spaces, tabs, line breaks and `-` `.` `(` `)` `/` are ignored.
    ///
    /// - Parameters:
    ///   - input: At most 64 characters.
    ///   - defaultRegion: The region used for numbers without an international prefix.
    /// - Throws: ``PhoneNumberError`` describing the first rule the input breaks.
    public init(parsing input: String, defaultRegion: Region = .us) throws(PhoneNumberError) {
        let parsed = try PhoneNumberParser.parse(input, defaultRegion: defaultRegion)
        let nationalDigits = parsed.nationalNumber.map { $0 + UInt8(ascii: "0") }
        countryCallingCode = parsed.callingCode
        e164 = "+\(parsed.callingCode)" + String(decoding: nationalDigits, as: UTF8.self)
    }

    /// The number with every digit replaced by `*` except the calling code and the last four digits, e.g.
    /// `"+1******0123"`.
    ///
    /// For national numbers shorter than eight digits at most half of the digits are shown, so a masked short
    /// number never reveals the whole of it.
    public var masked: String {
        let nationalCount = e164.utf8.count - 1 - String(countryCallingCode).utf8.count
        let shown = min(4, nationalCount / 2)
        return "+\(countryCallingCode)" + String(repeating: "*", count: nationalCount - shown)
            + String(e164.suffix(shown))
    }

    /// The ``masked`` form, so interpolating a number into a log message never leaks it.
    public var description: String { masked }

    /// The ``masked`` form wrapped in the type name; `String(reflecting:)` must not leak either.
    public var debugDescription: String { "PhoneNumber(\(masked))" }

    /// A mirror exposing only the masked form, so `dump` and debugger summaries do not leak the number.
    public var customMirror: Mirror {
        Mirror(self, children: ["masked": masked], displayStyle: .struct)
    }
}
