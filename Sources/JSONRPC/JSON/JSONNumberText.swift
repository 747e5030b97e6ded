/// Helpers for JSON number text: grammar checking and strict conversion to Swift numeric types.
enum JSONNumberText {
    /// Scans the RFC 8259 number grammar `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` starting at
    /// `start`. Returns the index just past the number, or the negated index plus one of the first offending
    /// position so that the hot path needs no optional or error allocation.
    @inline(__always)
    static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let end = bytes.count
        var index = start
        if index < end && bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end else { return -(index + 1) }
        let first = bytes[index]
        if first == UInt8(ascii: "0") {
            index += 1
            // A leading zero must stand alone; "01" is not JSON.
            if index < end && isDigit(bytes[index]) { return -(index + 1) }
        } else if isDigit(first) {
            index += 1
            while index < end && isDigit(bytes[index]) { index += 1 }
        } else {
            return -(index + 1)
        }
        if index < end && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < end && isDigit(bytes[index]) else { return -(index + 1) }
            while index < end && isDigit(bytes[index]) { index += 1 }
        }
        if index < end && (bytes[index] | 0x20) == UInt8(ascii: "e") {
            index += 1
            if index < end && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard index < end && isDigit(bytes[index]) else { return -(index + 1) }
            while index < end && isDigit(bytes[index]) { index += 1 }
        }
        return index
    }

    /// Whether the whole buffer is exactly one JSON number.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        scan(bytes, from: 0) == bytes.count
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// Whether the text is an optional minus sign followed only by decimal digits.
    static func isIntegerText(_ text: String) -> Bool {
        var sawDigit = false
        for (position, byte) in text.utf8.enumerated() {
            if position == 0 && byte == UInt8(ascii: "-") { continue }
            guard isDigit(byte) else { return false }
            sawDigit = true
        }
        return sawDigit
    }

    /// Converts integer text to `T`, or returns `nil` if the text has a fraction or exponent, or does not fit.
    static func integer<T: FixedWidthInteger>(_ text: String, as type: T.Type) -> T? {
        var result: T = 0
        var negative = false
        var sawDigit = false
        for (position, byte) in text.utf8.enumerated() {
            if position == 0 && byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard isDigit(byte) else { return nil }
            sawDigit = true
            let digit = T(byte &- UInt8(ascii: "0"))
            let shifted = result.multipliedReportingOverflow(by: 10)
            // Accumulating negatives downwards lets T.min parse without overflowing at the last digit.
            let next =
                negative
                ? shifted.partialValue.subtractingReportingOverflow(digit)
                : shifted.partialValue.addingReportingOverflow(digit)
            if shifted.overflow || next.overflow { return nil }
            result = next.partialValue
        }
        return sawDigit ? result : nil
    }

    /// Converts number text to a finite `Double`, or `nil` if it is not a number or overflows.
    static func double(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Converts number text to a finite `Float`, or `nil` if it is not a number or overflows.
    static func float(_ text: String) -> Float? {
        guard let value = Float(text), value.isFinite else { return nil }
        return value
    }
}
