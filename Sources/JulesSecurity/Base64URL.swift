/// URL-safe base64 (RFC 4648 §5) with `=` padding, the encoding of Fernet keys and tokens.
///
/// Decoding is strict: the length must be a multiple of four, padding must be present and only at the end, and the
/// unused low bits of the last symbol must be zero. Strictness keeps the encoding canonical, so a changed character
/// can never decode to the same bytes and slip past tamper checks.
enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let padding = UInt8(ascii: "=")

    /// Maps each ASCII byte to its 6-bit value, or 0xFF when it is not in the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, symbol) in alphabet.enumerated() {
            table[Int(symbol)] = UInt8(index)
        }
        return table
    }()

    /// Encodes bytes as padded URL-safe base64.
    static func encode(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(alphabet[Int(group & 0x3F)])
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(padding)
            output.append(padding)
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(padding)
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes padded URL-safe base64, or returns `nil` if the text is not canonical padded base64url.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else {
            return nil
        }
        var paddingCount = 0
        if input.last == padding {
            paddingCount = input.dropLast().last == padding ? 2 : 1
        }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 4 * 3)
        var group: UInt32 = 0
        for (position, symbol) in input.enumerated() {
            let isPadding = position >= input.count - paddingCount
            let value = isPadding ? 0 : values[Int(symbol)]
            guard value != 0xFF else {
                return nil
            }
            group = group << 6 | UInt32(value)
            if position % 4 == 3 {
                output.append(UInt8(group >> 16 & 0xFF))
                output.append(UInt8(group >> 8 & 0xFF))
                output.append(UInt8(group & 0xFF))
                group = 0
            }
        }
        // The padded positions decoded as zero bits; the bytes they produced must also be zero, otherwise the
        // last real symbol carried stray low bits and the text is a non-canonical spelling.
        for _ in 0..<paddingCount {
            guard output.removeLast() == 0 else {
                return nil
            }
        }
        return output
    }
}
