/// Writes compact JSON into a fixed staging buffer and flushes it to the output array in large pieces.
///
/// Appending to `[UInt8]` byte by byte pays a uniqueness and capacity check per call, and sizing the output first
/// would need a second walk over the tree; staging through raw memory needs one walk and one append per
/// `stagingCapacity` bytes.
struct JSONWriter {
    /// Large enough that a typical JSON-RPC message is flushed once; at most 1 KiB so that the staging buffer is
    /// always placed on the stack rather than the heap.
    static let stagingCapacity = 1024

    private let staging: UnsafeMutablePointer<UInt8>
    private var used = 0

    private init(staging: UnsafeMutablePointer<UInt8>) {
        self.staging = staging
    }

    /// Appends the compact JSON text of `value` to `output`.
    ///
    /// The capacity is spelled as a literal because only a compile-time constant lets the allocation be promoted to
    /// the stack.
    static func write(_ value: JSONValue, to output: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
            var writer = JSONWriter(staging: buffer.baseAddress!)
            writer.write(value, &output)
            writer.flush(&output)
        }
    }

    private mutating func write(_ value: borrowing JSONValue, _ output: inout [UInt8]) {
        switch value {
        case .null:
            writeLiteral("null", &output)
        case .bool(let flag):
            writeLiteral(flag ? "true" : "false", &output)
        case .number(let text):
            writeRaw(text, &output)
        case .string(let string):
            writeQuoted(string, &output)
        case .array(let elements):
            put(UInt8(ascii: "["), &output)
            // Borrowing elements through the buffer avoids a retain/release pair per element.
            elements.withUnsafeBufferPointer { buffer in
                for index in buffer.indices {
                    if index > 0 { put(UInt8(ascii: ","), &output) }
                    write(buffer[index], &output)
                }
            }
            put(UInt8(ascii: "]"), &output)
        case .object(let object):
            put(UInt8(ascii: "{"), &output)
            object.pairs.withUnsafeBufferPointer { buffer in
                for index in buffer.indices {
                    if index > 0 { put(UInt8(ascii: ","), &output) }
                    writeQuoted(buffer[index].key, &output)
                    put(UInt8(ascii: ":"), &output)
                    write(buffer[index].value, &output)
                }
            }
            put(UInt8(ascii: "}"), &output)
        }
    }

    // MARK: Staging

    private mutating func flush(_ output: inout [UInt8]) {
        guard used > 0 else { return }
        output.append(contentsOf: UnsafeBufferPointer(start: staging, count: used))
        used = 0
    }

    @inline(__always)
    private mutating func put(_ byte: UInt8, _ output: inout [UInt8]) {
        if used == Self.stagingCapacity { flush(&output) }
        staging[used] = byte
        used += 1
    }

    @inline(__always)
    private mutating func copy(_ source: UnsafeBufferPointer<UInt8>, _ output: inout [UInt8]) {
        guard let base = source.baseAddress, !source.isEmpty else { return }
        if source.count > Self.stagingCapacity - used {
            flush(&output)
            if source.count > Self.stagingCapacity {
                output.append(contentsOf: source)
                return
            }
        }
        (staging + used).update(from: base, count: source.count)
        used += source.count
    }

    // MARK: Tokens

    @inline(__always)
    private mutating func writeLiteral(_ literal: StaticString, _ output: inout [UInt8]) {
        copy(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount), &output)
    }

    private mutating func writeRaw(_ text: borrowing String, _ output: inout [UInt8]) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { copy($0, &output) }
        if done == nil {
            for byte in text.utf8 { put(byte, &output) }
        }
    }

    private mutating func writeQuoted(_ string: borrowing String, _ output: inout [UInt8]) {
        put(UInt8(ascii: "\""), &output)
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { writeEscaped($0, &output) }
        if done == nil {
            // Only strings bridged from other representations lack contiguous UTF-8; copy them once.
            Array(string.utf8).withUnsafeBufferPointer { writeEscaped($0, &output) }
        }
        put(UInt8(ascii: "\""), &output)
    }

    /// Writes `source`, copying runs that need no escaping in bulk.
    private mutating func writeEscaped(_ source: UnsafeBufferPointer<UInt8>, _ output: inout [UInt8]) {
        guard let base = source.baseAddress else { return }
        let count = source.count
        var runStart = 0
        var position = 0
        while position < count {
            // Test eight bytes at a time (a shorter tail padded); only a special byte stops the plain run.
            let remaining = count - position
            let word =
                remaining >= 8
                ? JSONByteScan.load(base + position)
                : JSONByteScan.loadPartial(base + position, count: remaining)
            let mask = JSONByteScan.escapeMask(word)
            if mask == 0 {
                position += min(remaining, 8)
                continue
            }
            position += JSONByteScan.firstMarkedByte(mask)
            copy(UnsafeBufferPointer(start: base + runStart, count: position - runStart), &output)
            writeEscape(base[position], &output)
            position += 1
            runStart = position
        }
        copy(UnsafeBufferPointer(start: base + runStart, count: count - runStart), &output)
    }

    private mutating func writeEscape(_ byte: UInt8, _ output: inout [UInt8]) {
        put(UInt8(ascii: "\\"), &output)
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): put(byte, &output)
        case 0x08: put(UInt8(ascii: "b"), &output)
        case 0x0C: put(UInt8(ascii: "f"), &output)
        case 0x0A: put(UInt8(ascii: "n"), &output)
        case 0x0D: put(UInt8(ascii: "r"), &output)
        case 0x09: put(UInt8(ascii: "t"), &output)
        default:
            let hexDigits: StaticString = "0123456789abcdef"
            put(UInt8(ascii: "u"), &output)
            put(UInt8(ascii: "0"), &output)
            put(UInt8(ascii: "0"), &output)
            put(hexDigits.utf8Start[Int(byte >> 4)], &output)
            put(hexDigits.utf8Start[Int(byte & 0x0F)], &output)
        }
    }
}
