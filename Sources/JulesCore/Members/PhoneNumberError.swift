/// Why an input could not be turned into a ``PhoneNumber``.
///
/// The description is a fixed sentence per reason and never echoes the input, so logging an error (or sending
/// it back over SMS) cannot leak the number someone typed.
public struct PhoneNumberError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rule the input broke.
    public let reason: Reason

    /// Creates an error for `reason`; public so callers can compare against an expected error.
    public init(reason: Reason) {
        self.reason = reason
    }

    /// A human-readable explanation that contains no part of the input.
    public var description: String { reason.description }

    /// A failure reason.
    ///
    /// A struct over a private enum rather than a public enum so that adding a reason later does not break
    /// exhaustive `switch` statements in client code.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: Sendable, Hashable {
            case empty
            case tooLong
            case invalidCharacters
            case misplacedPlusSign
            case extensionNotSupported
            case unknownCountryCode
            case tooShort
            case tooLongForCountry
            case invalidNANPNumber
            case unsupportedRegion
            case nationalNumberStartsWithZero
        }

        private let kind: Kind

        private init(_ kind: Kind) {
            self.kind = kind
        }

        /// The input contained no digits.
        public static let empty = Reason(.empty)
        /// The input was longer than 64 characters; it is rejected before any other work.
        public static let tooLong = Reason(.tooLong)
        /// The input contained something other than ASCII digits, spaces, `-`, `.`, `(`, `)`, `/` and a leading
        /// `+` (letters from vanity numbers, non-ASCII digits, …).
        public static let invalidCharacters = Reason(.invalidCharacters)
        /// A `+` appeared more than once or after a digit.
        public static let misplacedPlusSign = Reason(.misplacedPlusSign)
        /// The number carried an extension (`x123`, `ext. 123`, `#123`), which an SMS number cannot use.
        public static let extensionNotSupported = Reason(.extensionNotSupported)
        /// The digits after `+` (or an international prefix) start with no calling code this package knows.
        public static let unknownCountryCode = Reason(.unknownCountryCode)
        /// The national number has fewer digits than the country allows.
        public static let tooShort = Reason(.tooShort)
        /// The national number has more digits than the country allows.
        public static let tooLongForCountry = Reason(.tooLongForCountry)
        /// A +1 number is not of the form NXX-NXX-XXXX, or its area code or exchange is an N11 service code.
        public static let invalidNANPNumber = Reason(.invalidNANPNumber)
        /// The number has no international prefix and the default region has no dialling rules in this package.
        public static let unsupportedRegion = Reason(.unsupportedRegion)
        /// After its country code (and one trunk 0, which is dropped) the number still starts with 0, in a country
        /// where no number does.
        public static let nationalNumberStartsWithZero = Reason(.nationalNumberStartsWithZero)

        /// A fixed explanation of the reason.
        public var description: String {
            switch kind {
            case .empty: "The phone number is empty."
            case .tooLong: "The phone number is longer than 64 characters."
            case .invalidCharacters: "The phone number may only contain digits, spaces, and the symbols + - . ( ) /."
            case .misplacedPlusSign: "A '+' may appear only once, at the start of the phone number."
            case .extensionNotSupported: "Phone numbers with an extension cannot receive text messages."
            case .unknownCountryCode: "The country calling code is not recognised."
            case .tooShort: "The phone number has too few digits."
            case .tooLongForCountry: "The phone number has too many digits for its country."
            case .invalidNANPNumber: "The area code or exchange is not valid for a North American number."
            case .unsupportedRegion: "Numbers from this region must start with '+' and the country code."
            case .nationalNumberStartsWithZero:
                "No number in this country starts with a zero after the country code; the zero may be an extra digit."
            }
        }
    }
}
