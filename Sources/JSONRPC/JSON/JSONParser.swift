/// A strict RFC 8259 JSON parser that works directly on raw bytes.
///
/// Accepts exactly one value surrounded by optional whitespace (space, tab, LF, CR). Rejects trailing commas,
/// comments, `NaN`/`Infinity`, leading zeros or `+` in numbers, raw control characters in strings, unknown escapes,
/// unpaired UTF-16 surrogates, ill-formed UTF-8 and a byte-order mark. Duplicate object keys are kept in order (see
/// ``JSONObject`` for lookup rules).
///
/// Recursion follows nesting depth, which is capped by `maxDepth`; keep that cap modest (the default 512 uses well
/// under 100 KiB of stack) when parsing on threads with small stacks.
public struct JSONParser {
    private let base: UnsafePointer<UInt8>
    private let bytes: UnsafeRawBufferPointer
    private let end: Int
    private let maxDepth: Int
    private var index = 0
    private var depth = 0
    /// Reused buffer for strings that contain escapes, so that each such string costs one `String` creation.
    private var scratch: [UInt8] = []

    private init(base: UnsafePointer<UInt8>, bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.base = base
        self.bytes = bytes
        self.end = bytes.count
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document from raw bytes.
    ///
    /// - Parameters:
    ///   - bytes: UTF-8 JSON text. The buffer is only read during the call.
    ///   - maxDepth: the largest number of nested arrays/objects accepted; deeper input fails with `.tooDeep`.
    /// - Throws: ``JSONParseError`` with the byte offset and reason of the first problem.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        guard let raw = bytes.baseAddress, !bytes.isEmpty else {
            throw JSONParseError(offset: 0, reason: .unexpectedEnd)
        }
        // The bytes are only ever read as UInt8, so viewing them as typed memory is sound for any byte source.
        var parser = JSONParser(base: raw.assumingMemoryBound(to: UInt8.self), bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.index < parser.end {
            throw JSONParseError(offset: parser.index, reason: .trailingData)
        }
        return value
    }

    /// Parses one JSON document from any collection of UTF-8 bytes, such as `[UInt8]` or `ArraySlice<UInt8>`.
    public static func parse<C: Collection<UInt8>>(_ bytes: C, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue
    {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth)
            }
        }
        if let result { return try result.get() }
        return try parse(Array(bytes), maxDepth: maxDepth)
    }

    /// Parses one JSON document from a string's UTF-8 contents.
    public static func parse(_ string: String, maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        var string = string
        let result = string.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth)
            }
        }
        return try result.get()
    }

    // MARK: - Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < end else { throw failure(.unexpectedEnd) }
        switch base[index] {
        case UInt8(ascii: "\""):
            index += 1
            return .string(try parseString())
        case UInt8(ascii: "{"):
            return try parseObject()
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw failure(.unexpectedByte)
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        index += 1
        skipWhitespace()
        if index < end && base[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array([])
        }
        var elements: [JSONValue] = []
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard index < end else { throw failure(.unexpectedEnd) }
            let byte = base[index]
            if byte == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
            } else if byte == UInt8(ascii: "]") {
                index += 1
                break
            } else {
                throw failure(.unexpectedByte)
            }
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        index += 1
        skipWhitespace()
        if index < end && base[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(JSONObject())
        }
        // Small objects dominate JSON-RPC traffic; starting with room for a few pairs avoids regrowing.
        var pairs: [JSONObject.Element] = []
        pairs.reserveCapacity(4)
        while true {
            guard index < end else { throw failure(.unexpectedEnd) }
            guard base[index] == UInt8(ascii: "\"") else { throw failure(.unexpectedByte) }
            index += 1
            let key = try parseString()
            skipWhitespace()
            guard index < end else { throw failure(.unexpectedEnd) }
            guard base[index] == UInt8(ascii: ":") else { throw failure(.unexpectedByte) }
            index += 1
            skipWhitespace()
            pairs.append((key: key, value: try parseValue()))
            skipWhitespace()
            guard index < end else { throw failure(.unexpectedEnd) }
            let byte = base[index]
            if byte == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
            } else if byte == UInt8(ascii: "}") {
                index += 1
                break
            } else {
                throw failure(.unexpectedByte)
            }
        }
        depth -= 1
        return .object(JSONObject(storage: pairs))
    }

    @inline(__always)
    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw failure(.tooDeep) }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let stop = JSONNumberText.scan(bytes, from: start)
        guard stop >= 0 else { throw JSONParseError(offset: -stop - 1, reason: .invalidNumber) }
        index = stop
        return .number(makeString(from: start, to: stop))
    }

    private mutating func expect(_ literal: StaticString) throws(JSONParseError) {
        let text = literal.utf8Start
        for position in 0..<literal.utf8CodeUnitCount {
            guard index < end else { throw failure(.unexpectedEnd) }
            guard base[index] == text[position] else { throw failure(.unexpectedByte) }
            index += 1
        }
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < end {
            let byte = base[index]
            // Everything above space is significant, so one comparison settles the common case.
            if byte > 0x20 { return }
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index += 1
        }
    }

    @inline(__always)
    private func failure(_ reason: JSONParseError.Reason) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    /// Creates a string from bytes already known to be valid UTF-8.
    ///
    /// Copying into the string's own storage is cheaper than `String(decoding:as:)`, which prepares for repairs that
    /// cannot happen here.
    @inline(__always)
    private func makeString(from start: Int, to stop: Int) -> String {
        let source = UnsafeBufferPointer(start: base + start, count: stop - start)
        return String(unsafeUninitializedCapacity: source.count) { target in
            _ = target.initialize(from: source)
            return source.count
        }
    }

    // MARK: - Strings

    /// Parses a string body; `index` is just past the opening quote and ends just past the closing one.
    private mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        // Fast path: plain ASCII without escapes needs no copying besides the String itself. Whole words are
        // skipped while none of their bytes is special and the first special byte is located within its word; the
        // byte loop only runs for the last few bytes of the input, where a whole word cannot be read.
        while end - index >= 8 {
            let mask = JSONByteScan.parserStopMask(JSONByteScan.load(base + index))
            if mask != 0 {
                index += JSONByteScan.firstMarkedByte(mask)
                break
            }
            index += 8
        }
        while index < end {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                let string =
                    JSONKnownStrings.lookup(base + start, count: index - start) ?? makeString(from: start, to: index)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            index += 1
        }
        return try parseStringSlowly(from: start)
    }

    /// Handles strings with escapes or non-ASCII bytes, resuming at `index` inside a string that began at `start`.
    private mutating func parseStringSlowly(from start: Int) throws(JSONParseError) -> String {
        var runStart = start
        var hasEscapes = false
        while true {
            guard index < end else { throw failure(.unexpectedEnd) }
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                guard hasEscapes else { return makeString(from: start, to: index) }
                appendRun(from: runStart)
                return String(decoding: scratch, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                if !hasEscapes {
                    hasEscapes = true
                    scratch.removeAll(keepingCapacity: true)
                }
                appendRun(from: runStart)
                try parseEscape()
                runStart = index
            } else if byte < 0x20 {
                throw failure(.controlCharacterInString)
            } else if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
    }

    @inline(__always)
    private mutating func appendRun(from runStart: Int) {
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
    }

    /// Decodes one escape at `index` (the backslash) into `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let backslash = index
        index += 1
        guard index < end else { throw failure(.unexpectedEnd) }
        let byte = base[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(byte)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalar = UInt32(unit)
            if unit >= 0xD800 && unit <= 0xDBFF {
                // A high surrogate is only meaningful when a \u low surrogate follows immediately.
                guard end - index >= 2, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(offset: backslash, reason: .loneSurrogate)
                }
                index += 2
                let low = try parseHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw JSONParseError(offset: backslash, reason: .loneSurrogate)
                }
                scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw JSONParseError(offset: backslash, reason: .loneSurrogate)
            }
            appendUTF8(scalar)
        default:
            throw JSONParseError(offset: index - 1, reason: .invalidEscape)
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < end else { throw failure(.unexpectedEnd) }
            let byte = base[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: throw failure(.invalidEscape)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `index` (Unicode table 3-7) and steps over it.
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = base[index]
        var continuationCount: Int
        // The second byte's range is narrowed for some leads to exclude overlongs, surrogates and > U+10FFFF.
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: (continuationCount, secondLow) = (2, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: (continuationCount, secondHigh) = (2, 0x9F)
        case 0xF0: (continuationCount, secondLow) = (3, 0x90)
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: (continuationCount, secondHigh) = (3, 0x8F)
        default: throw failure(.invalidUTF8)
        }
        let leadIndex = index
        index += 1
        var (low, high) = (secondLow, secondHigh)
        while continuationCount > 0 {
            guard index < end else { throw failure(.unexpectedEnd) }
            let byte = base[index]
            guard byte >= low && byte <= high else { throw JSONParseError(offset: leadIndex, reason: .invalidUTF8) }
            low = 0x80
            high = 0xBF
            index += 1
            continuationCount -= 1
        }
    }
}
