/// The digits of an input, as values 0–9, and whether they were preceded by `+`.
struct ScannedInput: Sendable {
    var digits: [UInt8]
    var hasPlusSign: Bool
}

/// Applies the character-level rules: length limit, allowed characters, placement of `+`, and extensions.
enum InputScanner {
    /// The longest input accepted. Real numbers with generous punctuation stay well under it; anything longer is
    /// rejected before any other work so hostile input cannot cost much.
    static let maximumLength = 64

    static func scan(_ input: String) throws(PhoneNumberError) -> ScannedInput {
        // Counting stops at 65 scalars, so the check is cheap however long the input is.
        var scalarCount = 0
        for _ in input.unicodeScalars {
            scalarCount += 1
            if scalarCount > maximumLength { throw PhoneNumberError(reason: .tooLong) }
        }
        let bytes = Array(input.utf8)
        var scanned = ScannedInput(digits: [], hasPlusSign: false)
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                scanned.digits.append(byte - UInt8(ascii: "0"))
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: "-"),
                UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "/"):
                continue
            case UInt8(ascii: "+"):
                guard !scanned.hasPlusSign, scanned.digits.isEmpty else {
                    throw PhoneNumberError(reason: .misplacedPlusSign)
                }
                scanned.hasPlusSign = true
            default:
                // Only a marker after some digits can start an extension; "x123" on its own is just invalid.
                if !scanned.digits.isEmpty, isExtension(bytes[index...]) {
                    throw PhoneNumberError(reason: .extensionNotSupported)
                }
                throw PhoneNumberError(reason: .invalidCharacters)
            }
        }
        guard !scanned.digits.isEmpty else { throw PhoneNumberError(reason: .empty) }
        return scanned
    }

    /// Markers that introduce an extension, longest first so "extension" is not read as "ext" + "ension".
    private static let extensionMarkers: [[UInt8]] = ["extension", "ext", "x", "#"].map { Array($0.utf8) }

    /// Whether `tail` reads as an extension: optional `,`/`;` and spaces, a marker (or a `,`/`;` pause as used in
    /// dial strings), optional `.`/`:`/spaces, then one or more digits and nothing else.
    private static func isExtension(_ tail: ArraySlice<UInt8>) -> Bool {
        let lowered = tail.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        var rest = lowered[...]
        let startsWithPause = rest.first == UInt8(ascii: ",") || rest.first == UInt8(ascii: ";")
        rest = rest.drop { ",; ".utf8.contains($0) }
        if let marker = extensionMarkers.first(where: { rest.starts(with: $0) }) {
            rest = rest.dropFirst(marker.count)
        } else if !startsWithPause {
            return false
        }
        rest = rest.drop { ".: ".utf8.contains($0) }
        return !rest.isEmpty && rest.allSatisfy { $0 == UInt8(ascii: " ") || isASCIIDigit($0) }
            && rest.contains(where: isASCIIDigit)
    }

    private static func isASCIIDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
