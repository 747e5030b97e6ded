/// Masks anything in log text that looks like a phone number, as a last line of defence: the code never logs a
/// number on purpose (``PhoneNumber`` prints masked), but a number can hide in an error text or a client's string.
///
/// A candidate is a run of digits and the separators people write (space, `-`, `.`, `(`, `)`, `/`) that ends on a
/// digit, is not glued to a word on either side (so UUIDs, hex ids, timestamps and sids are left alone), and has 8
/// to 15 digits after a `+`, or 10 to 15 without one. It becomes `+` (if it had one), `*` for every digit but the
/// last four, and those four.
enum PhoneNumberRedaction {
    /// `text` with every phone-number-like run masked; `text` itself when there is none.
    static func redact(_ text: String) -> String {
        // The common case, in one pass without allocating: no run of digits, separators and `+` holds the eight
        // digits the shortest number needs (a UUID's or a timestamp's digits are broken up by letters and colons).
        guard text.utf8.count >= 8 else { return text }
        var contiguous = text
        guard contiguous.withUTF8({ hasLongDigitRun($0) }) else { return text }
        return contiguous.withUTF8 { redact(text, bytes: $0) }
    }

    private static func redact(_ text: String, bytes: UnsafeBufferPointer<UInt8>) -> String {
        var output: [UInt8] = []
        var copied = 0
        var index = 0
        while index < bytes.count {
            guard let run = candidate(in: bytes, at: index) else {
                index += 1
                continue
            }
            output.append(contentsOf: bytes[copied..<index])
            output.append(contentsOf: masked(bytes[index..<run.end], digits: run.digits))
            index = run.end
            copied = run.end
        }
        guard copied > 0 else { return text }
        output.append(contentsOf: bytes[copied...])
        return String(decoding: output, as: UTF8.self)
    }

    private static func hasLongDigitRun(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var digitsInRun = 0
        for byte in bytes {
            if isDigit(byte) {
                digitsInRun += 1
                if digitsInRun >= 8 { return true }
            } else if !isSeparator(byte) && byte != UInt8(ascii: "+") {
                digitsInRun = 0
            }
        }
        return false
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// Letters, digits, `_`, and any non-ASCII byte (a letter of another script): what makes a run part of a word.
    private static func isWordByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- 0x61 < 26 || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "/"):
            true
        default: false
        }
    }

    /// The phone-number-like run starting at `start`, if there is one.
    private static func candidate(in bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, digits: Int)? {
        let plus = bytes[start] == UInt8(ascii: "+")
        guard plus || isDigit(bytes[start]) else { return nil }
        if start > 0 {
            let before = bytes[start - 1]
            if isWordByte(before) || before == UInt8(ascii: "+") { return nil }
            // "…a716-446655440000" (a UUID's last group) and "10.0.0.1": a separator glued to a word continues it.
            let glue = before == UInt8(ascii: "-") || before == UInt8(ascii: ".") || before == UInt8(ascii: "/")
            if !plus, glue, start > 1, isWordByte(bytes[start - 2]) { return nil }
        }
        var index = plus ? start + 1 : start
        var digits = 0
        var end = start
        var separatorsInARow = 0
        var group = 0
        var longestGroup = 0
        var onlyDots = true
        while index < bytes.count {
            let byte = bytes[index]
            if isDigit(byte) {
                digits += 1
                group += 1
                longestGroup = max(longestGroup, group)
                end = index + 1
                separatorsInARow = 0
            } else if isSeparator(byte), digits > 0 || byte == UInt8(ascii: "("), separatorsInARow < 2 {
                separatorsInARow += 1
                group = 0
                if byte != UInt8(ascii: ".") { onlyDots = false }
            } else {
                break
            }
            index += 1
        }
        guard digits >= (plus ? 8 : 10), digits <= 15 else { return nil }
        // Dotted groups of at most three digits are IPv4 addresses ("192.168.100.200"), not "415.555.0123".
        if onlyDots, longestGroup <= 3 { return nil }
        // Glued to a word or a time ("2026-11-29T13", "2026-11-29 13:06") on the right: not a number.
        if end < bytes.count {
            let after = bytes[end]
            if isWordByte(after) || after == UInt8(ascii: ":") || after == UInt8(ascii: "+") { return nil }
        }
        return (end, digits)
    }

    private static func masked<Run: Collection<UInt8>>(_ run: Run, digits: Int) -> [UInt8] {
        var result: [UInt8] = run.first == UInt8(ascii: "+") ? [UInt8(ascii: "+")] : []
        var seen = 0
        for byte in run where isDigit(byte) {
            seen += 1
            result.append(seen > digits - 4 ? byte : UInt8(ascii: "*"))
        }
        return result
    }
}
