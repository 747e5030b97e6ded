import Foundation
import JSONRPC

/// UUIDs to and from their 36-character text, without the C library's formatted I/O.
///
/// Foundation reads a UUID with `sscanf` and writes one with `sprintf`; both showed in profiles of `state.get`,
/// which reads one UUID from its params and writes one into its Redis key on every call.
extension UUID {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The canonical text in lowercase (`lowercasedText`, as keys and log lines use it).
    var lowercasedText: String {
        String(unsafeUninitializedCapacity: 36) { text in
            withUnsafeBytes(of: uuid) { bytes in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = Self.hexDigits[Int(byte >> 4)]
                    text[position + 1] = Self.hexDigits[Int(byte & 0x0F)]
                    position += 2
                }
            }
            return 36
        }
    }

    /// Reads the canonical text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case), as
    /// `UUID(uuidString:)` does; `nil` for anything else.
    init?(text: String) {
        var text = text
        let parsed: uuid_t? = text.withUTF8 { utf8 -> uuid_t? in
            guard utf8.count == 36 else { return nil }
            var bytes = (0..<16).map { _ in UInt8(0) }
            var position = 0
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard utf8[position] == UInt8(ascii: "-") else { return nil }
                    position += 1
                }
                guard let high = Self.hexValue(utf8[position]), let low = Self.hexValue(utf8[position + 1]) else {
                    return nil
                }
                bytes[index] = high << 4 | low
                position += 2
            }
            return (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        }
        guard let parsed else { return nil }
        self.init(uuid: parsed)
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Params decode their UUIDs straight from the JSON string; text that is not a UUID goes through `Decodable`, which
/// reports it as before.
extension UUID: JSONValueDecodable {
    public init?(decodingDirectly value: JSONValue) {
        guard case .string(let text) = value else { return nil }
        self.init(text: text)
    }
}
