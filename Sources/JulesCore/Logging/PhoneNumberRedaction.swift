/// Masks anything in log text that looks like a phone number, as a last line of defence: the code never logs a
/// number on purpose (``PhoneNumber`` prints masked), but a number can hide in an error text or a client's string.
///
/// A run is an optional `+`, then groups of digits joined by up to three separators in a row (space, `-`, `.`, `(`,
/// `)`, `/`, `_`, a no-break space, a Unicode dash or minus). A run that starts inside a word ("SM0123…", "v2.1…",
/// "/lib/1234…") is not a number. Of a run, the longest part from its start to the end of one of its groups is
/// masked if it has 8 to 15 digits after a `+` (10 to 15 without one), is not glued to a word on its right (a `+`
/// part may be), and is not a UUID, an IPv4 address, a decimal number or a date (with its hour). So in
/// "+14155550123 5s" the number is masked and the "5" kept, and of "4155550123 4155550124" both numbers are.
/// A masked part becomes `+` (if it had one), `*` for every digit but the last four, and those four.
///
/// Masking errs on the side of privacy: a long digit string that is not a phone number (a 12-digit order number)
/// may be masked too.
enum PhoneNumberRedaction {
    /// `text` with every phone-number-like run masked; `text` itself when there is none.
    /// - Parameter precheck: Whether to skip, in one pass without allocating, text in which no stretch without a
    ///   letter holds the eight digits the shortest number needs (the common case); tests turn it off to check that
    ///   it never skips a number.
    static func redact(_ text: String, precheck: Bool = true) -> String {
        guard text.utf8.count >= 8 else { return text }
        var contiguous = text
        if precheck, !contiguous.withUTF8({ mayMask($0) }) { return text }
        return contiguous.withUTF8 { redact(text, bytes: $0) }
    }

    private static func redact(_ text: String, bytes: UnsafeBufferPointer<UInt8>) -> String {
        var output: [UInt8] = []
        var copied = 0
        var index = 0
        while index < bytes.count {
            if let protectedEnd = uuid(in: bytes, at: index) ?? ipv4Address(in: bytes, at: index) {
                index = protectedEnd
                continue
            }
            guard let run = run(in: bytes, at: index) else {
                index += 1
                continue
            }
            guard let masked = maskedPart(of: run, in: bytes) else {
                // A number may still start at a later group ("2026-11-29 4155550123").
                index = run.groupStarts.count > 1 ? run.groupStarts[1] : run.groupEnds.last!
                continue
            }
            output.append(contentsOf: bytes[copied..<index])
            output.append(contentsOf: mask(bytes[index..<masked.end], digits: masked.digits))
            index = masked.end
            copied = masked.end
        }
        guard copied > 0 else { return text }
        output.append(contentsOf: bytes[copied...])
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether ``redact(_:precheck:)`` could change text of these bytes: false for the common case, text that
    /// ``redact(_:precheck:)`` returns as it is without looking further.
    static func mayMask(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count >= 8 && hasLongDigitRun(bytes)
    }

    /// Whether some stretch of the text without an ASCII letter or other ASCII punctuation holds 8 digits: true
    /// for every text in which ``redact(_:)`` could find a number (non-ASCII bytes never end a stretch, as they may
    /// be separators).
    private static func hasLongDigitRun(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var digitsInRun = 0
        for byte in bytes {
            if isDigit(byte) {
                digitsInRun += 1
                if digitsInRun >= 8 { return true }
            } else if byte < 0x80, !isASCIISeparator(byte), byte != UInt8(ascii: "+") {
                digitsInRun = 0
            }
        }
        return false
    }

    // MARK: Runs

    private struct Run {
        var plus: Bool
        /// Where each group of digits starts and ends, how many digits it has, and the run's digits up to its end.
        var groupStarts: [Int] = []
        var groupEnds: [Int] = []
        var groupLengths: [Int] = []
        var digitsAtGroupEnd: [Int] = []
        /// Each separator between groups: where it is, and its ASCII byte (`-` for the Unicode ones).
        var separators: [(index: Int, byte: UInt8)] = []
    }

    /// The run of digit groups starting at `start`, if a run may start there.
    private static func run(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Run? {
        let plus = bytes[start] == UInt8(ascii: "+")
        guard plus || isDigit(bytes[start]) else { return nil }
        if start > 0 {
            let before = bytes[start - 1]
            if before == UInt8(ascii: "+") || isDigit(before) || isWordScalar(endingAt: start, in: bytes) { return nil }
            // A path's or a version's next part ("/lib/12345…", "2.1234…"): a `/` after a word, a `.` after a digit.
            if start > 1, before == UInt8(ascii: "/"), isWordScalar(endingAt: start - 1, in: bytes) { return nil }
            if start > 1, before == UInt8(ascii: "."), isDigit(bytes[start - 2]) { return nil }
        }
        var run = Run(plus: plus)
        var index = plus ? start + 1 : start
        var digits = 0
        var group = 0
        var separatorsInARow = 0
        while index < bytes.count {
            if isDigit(bytes[index]) {
                if group == 0 { run.groupStarts.append(index) }
                digits += 1
                group += 1
                separatorsInARow = 0
                index += 1
                continue
            }
            let length = separatorLength(in: bytes, at: index)
            guard length > 0, separatorsInARow < 3, digits > 0 || bytes[index] == UInt8(ascii: "(") else { break }
            if group > 0 {
                run.groupEnds.append(index)
                run.digitsAtGroupEnd.append(digits)
                run.groupLengths.append(group)
                group = 0
            }
            run.separators.append((index, length == 1 ? bytes[index] : UInt8(ascii: "-")))
            separatorsInARow += 1
            index += length
        }
        if group > 0 {
            run.groupEnds.append(index)
            run.digitsAtGroupEnd.append(digits)
            run.groupLengths.append(group)
        }
        return run.groupEnds.isEmpty ? nil : run
    }

    /// The longest part of `run` to mask, if any: the end and the number of digits.
    private static func maskedPart(of run: Run, in bytes: UnsafeBufferPointer<UInt8>) -> (end: Int, digits: Int)? {
        let minimum = run.plus ? 8 : 10
        var fallback: (end: Int, digits: Int)?
        for groups in stride(from: run.groupEnds.count, through: 1, by: -1) {
            let digits = run.digitsAtGroupEnd[groups - 1]
            guard digits >= minimum, digits <= 15 else { continue }
            let end = run.groupEnds[groups - 1]
            let separators = run.separators.filter { $0.index < end && $0.index > run.groupStarts[0] }.map(\.byte)
            if !run.plus, isDateOrNumber(Array(run.groupLengths[0..<groups]), separators: separators) { continue }
            if end < bytes.count, isWordScalar(startingAt: end, in: bytes) || bytes[end] == UInt8(ascii: "+") {
                // Glued to a word on the right: a shorter part may end cleanly; a `+` number is masked regardless.
                if run.plus, fallback == nil { fallback = (end, digits) }
                continue
            }
            return (end, digits)
        }
        return fallback
    }

    /// An IPv4 address, a decimal number, or a date with perhaps its hour: digit groups that are not a phone
    /// number. `separators` are those between the groups, in order.
    private static func isDateOrNumber(_ groups: [Int], separators: [UInt8]) -> Bool {
        let onlyDots = separators.allSatisfy { $0 == UInt8(ascii: ".") }
        if onlyDots, separators.count == 3, groups.count == 4, groups.allSatisfy({ $0 <= 3 }) { return true }
        if onlyDots, separators.count == 1 { return true }  // 3.14159265358
        // 2026-11-29 13, 29.11.2026 13, 2026/11/29
        guard groups.count == 3 || groups.count == 4, groups.count == 3 || groups[3] <= 2,
            separators.count == groups.count - 1
        else { return false }
        return (groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2)
            || (groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4)
    }

    // MARK: Characters

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    private static func isASCIISeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "/"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    /// The length in bytes of the separator at `index`, or 0: an ASCII one, a no-break space (U+00A0, U+202F),
    /// a dash (U+2010…U+2015) or a minus sign (U+2212).
    private static func separatorLength(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let byte = bytes[index]
        if byte < 0x80 { return isASCIISeparator(byte) ? 1 : 0 }
        let remaining = bytes.count - index
        if byte == 0xC2, remaining >= 2, bytes[index + 1] == 0xA0 { return 2 }
        guard remaining >= 3 else { return 0 }
        let second = bytes[index + 1]
        let third = bytes[index + 2]
        if byte == 0xE2, second == 0x80, (0x90...0x95).contains(third) || third == 0xAF { return 3 }
        if byte == 0xE2, second == 0x88, third == 0x92 { return 3 }
        return 0
    }

    /// Whether the character ending just before `end` is a letter or a digit (of any script).
    private static func isWordScalar(endingAt end: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let last = bytes[end - 1]
        if last < 0x80 { return isASCIIWordByte(last) }
        var start = end - 1
        while start > 0, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return isWordScalar(bytes[start..<end])
    }

    /// Whether the character starting at `start` is a letter or a digit (of any script).
    private static func isWordScalar(startingAt start: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let first = bytes[start]
        if first < 0x80 { return isASCIIWordByte(first) }
        var end = start + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return isWordScalar(bytes[start..<end])
    }

    private static func isWordScalar(_ encoded: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard let scalar = String(decoding: encoded, as: UTF8.self).unicodeScalars.first else { return false }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    private static func isASCIIWordByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 0x61 < 26
    }

    /// The index after a UUID (8-4-4-4-12 hex digits) starting at `start` and not glued to a word, if one does.
    private static func uuid(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        let end = start + 36
        guard end <= bytes.count, isHex(bytes[start]) else { return nil }
        if start > 0, isASCIIWordByte(bytes[start - 1]) { return nil }
        for offset in 0..<36 {
            let byte = bytes[start + offset]
            let dash = offset == 8 || offset == 13 || offset == 18 || offset == 23
            guard dash ? byte == UInt8(ascii: "-") : isHex(byte) else { return nil }
        }
        if end < bytes.count, isASCIIWordByte(bytes[end]) { return nil }
        return end
    }

    /// The index after an IPv4 address (four groups of one to three digits joined by dots) starting at `start` and
    /// not glued to a digit or a dot, if one does.
    private static func ipv4Address(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        guard isDigit(bytes[start]) else { return nil }
        if start > 0, isDigit(bytes[start - 1]) || bytes[start - 1] == UInt8(ascii: ".") { return nil }
        var index = start
        for part in 0..<4 {
            if part > 0 {
                guard index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
            let partStart = index
            while index < bytes.count, isDigit(bytes[index]), index - partStart < 3 { index += 1 }
            guard index > partStart else { return nil }
        }
        if index < bytes.count, isDigit(bytes[index]) { return nil }
        if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "."), isDigit(bytes[index + 1]) { return nil }
        return index
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 0x61 < 6
    }

    private static func mask<Run: Collection<UInt8>>(_ run: Run, digits: Int) -> [UInt8] {
        var result: [UInt8] = run.first == UInt8(ascii: "+") ? [UInt8(ascii: "+")] : []
        var seen = 0
        for byte in run where isDigit(byte) {
            seen += 1
            result.append(seen > digits - 4 ? byte : UInt8(ascii: "*"))
        }
        return result
    }
}
