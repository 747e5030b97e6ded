/// How a message body travels over the air, and how many parts (segments) it takes.
///
/// A body that uses only the GSM 03.38 alphabet is sent in 7-bit characters: 160 in one segment, 153 in each part
/// of a longer message (the rest of a part carries the header that joins the parts). The characters of the
/// alphabet's extension table (`^ { } \ [ ] ~ | €` and form feed) take two. Any other character switches the whole
/// body to UCS-2: 70 UTF-16 code units in one segment, 67 per part, and a surrogate pair is never split.
/// Providers charge, and rate-limit, per segment.
public struct SMSEncoding: Sendable, Hashable {
    public enum Alphabet: String, Sendable, Codable {
        case gsm7
        case ucs2
    }

    public var alphabet: Alphabet
    public var segments: Int

    public init(body: String) {
        if let septets = Self.gsmSeptets(body) {
            alphabet = .gsm7
            segments = Self.pack(septets, single: 160, part: 153)
        } else {
            alphabet = .ucs2
            segments = Self.pack(body.unicodeScalars.map { $0.value > 0xFFFF ? 2 : 1 }, single: 70, part: 67)
        }
    }

    /// The cost of each character in septets, or `nil` if some character is not in the GSM alphabet.
    private static func gsmSeptets(_ body: String) -> [Int]? {
        var costs: [Int] = []
        costs.reserveCapacity(body.unicodeScalars.count)
        for scalar in body.unicodeScalars {
            if basic.contains(scalar) {
                costs.append(1)
            } else if extended.contains(scalar) {
                costs.append(2)
            } else {
                return nil
            }
        }
        return costs
    }

    /// The number of segments for characters of the given sizes: one if they all fit in `single` units, else as
    /// many parts of at most `part` units as it takes, never splitting a character.
    private static func pack(_ sizes: [Int], single: Int, part: Int) -> Int {
        let total = sizes.reduce(0, +)
        if total <= single { return 1 }
        var parts = 1
        var used = 0
        for size in sizes {
            if used + size > part {
                parts += 1
                used = 0
            }
            used += size
        }
        return parts
    }

    /// Whether GSM-7 can carry `scalar` (in its default alphabet or its extension table).
    static func isGSM7(_ scalar: Unicode.Scalar) -> Bool {
        basic.contains(scalar) || extended.contains(scalar)
    }

    /// The GSM 03.38 default alphabet (escape excluded).
    private static let basic: Set<Unicode.Scalar> = {
        let text =
            "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
        return Set(text.unicodeScalars)
    }()

    /// The extension table: each costs an escape and the character.
    private static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}
