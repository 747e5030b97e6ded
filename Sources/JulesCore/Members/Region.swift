/// A country or territory, identified by its ISO 3166-1 alpha-2 code, used to interpret numbers that are written
/// without `+` or an international prefix.
public struct Region: Sendable, Hashable, CustomStringConvertible {
    /// The upper-case ISO 3166-1 alpha-2 code, e.g. `"GB"`.
    public let code: String

    /// Creates a region from a two-letter code, case-insensitively (`"gb"`, `"Gb"` and `"GB"` are equal).
    ///
    /// Returns `nil` unless `code` is exactly two ASCII letters. Any such pair is accepted, not only regions with
    /// dialling rules here: numbers written with `+` or `00` still parse under them, while national-format numbers
    /// fail with ``PhoneNumberError/Reason/unsupportedRegion`` (see ``isSupported``).
    public init?(code: String) {
        // Checking the UTF-8 length first keeps the work bounded for arbitrarily long input.
        guard code.utf8.count == 2 else { return nil }
        var upper: [UInt8] = []
        for byte in code.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): upper.append(byte)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): upper.append(byte - 32)
            default: return nil
            }
        }
        self.code = String(decoding: upper, as: UTF8.self)
    }

    /// Creates one of the built-in constants, whose codes are known to be well formed.
    private init(known code: String) {
        self.code = code
    }

    /// Whether national-format numbers (without `+`) can be parsed with this region as the default.
    public var isSupported: Bool { RegionMetadata.lookup(code) != nil }

    /// The country calling code used for national-format numbers, or `nil` for an unsupported region.
    public var countryCallingCode: Int? { RegionMetadata.lookup(code)?.callingCode }

    /// The ISO code, e.g. `"GB"`.
    public var description: String { code }

    /// The United States (+1).
    public static let us = Region(known: "US")
    /// Canada (+1).
    public static let ca = Region(known: "CA")
    /// The United Kingdom (+44).
    public static let gb = Region(known: "GB")
    /// Germany (+49).
    public static let de = Region(known: "DE")
    /// France (+33).
    public static let fr = Region(known: "FR")
    /// Italy (+39).
    public static let it = Region(known: "IT")
    /// Spain (+34).
    public static let es = Region(known: "ES")
    /// The Netherlands (+31).
    public static let nl = Region(known: "NL")
    /// Belgium (+32).
    public static let be = Region(known: "BE")
    /// Switzerland (+41).
    public static let ch = Region(known: "CH")
    /// Austria (+43).
    public static let at = Region(known: "AT")
    /// Ireland (+353).
    public static let ie = Region(known: "IE")
    /// Australia (+61).
    public static let au = Region(known: "AU")
    /// New Zealand (+64).
    public static let nz = Region(known: "NZ")
    /// India (+91).
    public static let `in` = Region(known: "IN")
    /// Japan (+81).
    public static let jp = Region(known: "JP")
    /// Brazil (+55).
    public static let br = Region(known: "BR")
    /// Mexico (+52).
    public static let mx = Region(known: "MX")
}
