/// Writes compact JSON through a raw pointer into memory sized beforehand by ``size(of:)``.
///
/// The two functions must agree byte for byte: `write` never checks bounds, relying on `size` having counted every
/// byte it will produce.
struct JSONWriter {
    var cursor: UnsafeMutablePointer<UInt8>

    // MARK: Sizing

    /// The exact number of bytes `write` produces for `value`.
    static func size(of value: borrowing JSONValue) -> Int {
        switch value {
        case .null: return 4
        case .bool(let flag): return flag ? 4 : 5
        case .number(let text): return text.utf8.count
        case .string(let string): return quotedSize(string)
        case .array(let elements):
            var total = 2 + max(elements.count - 1, 0)
            for element in elements { total += size(of: element) }
            return total
        case .object(let object):
            // Braces, plus a colon per member and a comma between members.
            var total = 2 + max(2 * object.count - 1, 0)
            for (key, member) in object.pairs { total += quotedSize(key) + size(of: member) }
            return total
        }
    }

    private static func quotedSize(_ string: String) -> Int {
        let extra = string.utf8.withContiguousStorageIfAvailable(escapeOverhead) ?? escapeOverhead(Array(string.utf8))
        return string.utf8.count + 2 + extra
    }

    /// Bytes added by escaping: one for a two-character escape, five for `\u00XX`.
    private static func escapeOverhead<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int {
        var extra = 0
        for byte in bytes where needsEscape(byte) {
            extra += hasShortEscape(byte) ? 1 : 5
        }
        return extra
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    @inline(__always)
    private static func hasShortEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x09, 0x0A, 0x0C, 0x0D: true
        default: false
        }
    }

    // MARK: Writing

    mutating func write(_ value: borrowing JSONValue) {
        switch value {
        case .null:
            writeLiteral("null")
        case .bool(let flag):
            writeLiteral(flag ? "true" : "false")
        case .number(let text):
            writeRaw(text)
        case .string(let string):
            writeQuoted(string)
        case .array(let elements):
            put(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { put(UInt8(ascii: ",")) }
                first = false
                write(element)
            }
            put(UInt8(ascii: "]"))
        case .object(let object):
            put(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object.pairs {
                if !first { put(UInt8(ascii: ",")) }
                first = false
                writeQuoted(key)
                put(UInt8(ascii: ":"))
                write(member)
            }
            put(UInt8(ascii: "}"))
        }
    }

    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        cursor.initialize(to: byte)
        cursor += 1
    }

    @inline(__always)
    private mutating func writeLiteral(_ literal: StaticString) {
        copy(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    @inline(__always)
    private mutating func copy(_ source: UnsafeBufferPointer<UInt8>) {
        guard let base = source.baseAddress else { return }
        cursor.initialize(from: base, count: source.count)
        cursor += source.count
    }

    private mutating func writeRaw(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { copy($0) }
        if done == nil {
            for byte in text.utf8 { put(byte) }
        }
    }

    private mutating func writeQuoted(_ string: String) {
        put(UInt8(ascii: "\""))
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { writeEscaped($0) }
        if done == nil {
            // Only strings bridged from other representations lack contiguous UTF-8; copy them once.
            Array(string.utf8).withUnsafeBufferPointer { writeEscaped($0) }
        }
        put(UInt8(ascii: "\""))
    }

    /// Writes `source`, copying runs that need no escaping in bulk.
    private mutating func writeEscaped(_ source: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for position in 0..<source.count {
            let byte = source[position]
            guard Self.needsEscape(byte) else { continue }
            copy(UnsafeBufferPointer(rebasing: source[runStart..<position]))
            runStart = position + 1
            put(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): put(byte)
            case 0x08: put(UInt8(ascii: "b"))
            case 0x0C: put(UInt8(ascii: "f"))
            case 0x0A: put(UInt8(ascii: "n"))
            case 0x0D: put(UInt8(ascii: "r"))
            case 0x09: put(UInt8(ascii: "t"))
            default:
                let hexDigits: StaticString = "0123456789abcdef"
                put(UInt8(ascii: "u"))
                put(UInt8(ascii: "0"))
                put(UInt8(ascii: "0"))
                put(hexDigits.utf8Start[Int(byte >> 4)])
                put(hexDigits.utf8Start[Int(byte & 0x0F)])
            }
        }
        copy(UnsafeBufferPointer(rebasing: source[runStart...]))
    }
}
