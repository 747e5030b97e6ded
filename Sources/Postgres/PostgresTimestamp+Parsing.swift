extension PostgresTimestamp {
    /// Reads PostgreSQL's ISO output (`DateStyle=ISO`, which every connection sets) of `timestamptz`, `timestamp`
    /// and `date`: `2024-02-29 13:05:09.00025+05:30`, `0044-03-15 12:00:00+00 BC`, `2024-02-29`.
    ///
    /// - Returns: `nil` for anything else, including `infinity`, which has no finite value to map to.
    init?(postgresText text: some Collection<UInt8>) {
        var bytes = Array(text)
        let bcSuffix = Array(" BC".utf8)
        let isBC = bytes.count > bcSuffix.count && bytes.suffix(bcSuffix.count).elementsEqual(bcSuffix)
        if isBC { bytes.removeLast(bcSuffix.count) }
        var reader = DigitReader(bytes: bytes)

        guard let shownYear = reader.number(), reader.skip("-"), let month = reader.number(), reader.skip("-"),
            let day = reader.number(), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let year = isBC ? 1 - shownYear : shownYear
        var secondsOfDay: Int64 = 0
        var fraction: Int64 = 0
        var offsetSeconds: Int64 = 0
        if !reader.isAtEnd {
            guard reader.skip(" ") || reader.skip("T"), let hours = reader.number(), reader.skip(":"),
                let minutes = reader.number(), reader.skip(":"), let seconds = reader.number()
            else { return nil }
            secondsOfDay = hours * 3600 + minutes * 60 + seconds
            if reader.skip(".") {
                guard let micros = reader.fractionAsMicroseconds() else { return nil }
                fraction = micros
            }
            if !reader.isAtEnd {
                guard let offset = reader.utcOffsetSeconds() else { return nil }
                offsetSeconds = offset
            }
            guard reader.isAtEnd else { return nil }
        }
        let days = CivilCalendar.daysSince1970(year: year, month: month, day: day)
        let seconds = days * Self.secondsPerDay + secondsOfDay - offsetSeconds
        let (micros, overflow) = seconds.multipliedReportingOverflow(by: Self.microsecondsPerSecond)
        let (total, overflow2) = micros.addingReportingOverflow(fraction)
        guard !overflow, !overflow2 else { return nil }
        self.init(microsecondsSince1970: total)
    }
}

/// A cursor over ASCII digits and separators; small enough to keep the parser above readable.
private struct DigitReader {
    let bytes: [UInt8]
    var position = 0

    var isAtEnd: Bool { self.position == self.bytes.count }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard !self.isAtEnd, self.bytes[self.position] == UInt8(ascii: character) else { return false }
        self.position += 1
        return true
    }

    /// Up to 9 digits, which keeps every product in the caller far from overflow.
    mutating func number() -> Int64? {
        let start = self.position
        var value: Int64 = 0
        while !self.isAtEnd, self.position - start < 9, let digit = Self.digit(self.bytes[self.position]) {
            value = value * 10 + digit
            self.position += 1
        }
        return self.position > start ? value : nil
    }

    /// Digits after the decimal point, scaled to microseconds; digits past the sixth are ignored (PostgreSQL sends
    /// at most six).
    mutating func fractionAsMicroseconds() -> Int64? {
        var value: Int64 = 0
        var count = 0
        while !self.isAtEnd, let digit = Self.digit(self.bytes[self.position]) {
            if count < 6 { value = value * 10 + digit }
            count += 1
            self.position += 1
        }
        guard count > 0 else { return nil }
        for _ in count..<max(count, 6) { value *= 10 }
        return value
    }

    /// `+05`, `-03:30`, `+00:53:28` (local mean time offsets have seconds), `+0530`.
    mutating func utcOffsetSeconds() -> Int64? {
        let sign: Int64
        if self.skip("+") {
            sign = 1
        } else if self.skip("-") {
            sign = -1
        } else {
            return nil
        }
        var parts: [Int64] = []
        while let part = self.twoDigits() {
            parts.append(part)
            _ = self.skip(":")
        }
        guard (1...3).contains(parts.count) else { return nil }
        let padded = parts + Array(repeating: 0, count: 3 - parts.count)
        return sign * (padded[0] * 3600 + padded[1] * 60 + padded[2])
    }

    private mutating func twoDigits() -> Int64? {
        guard self.position + 1 < self.bytes.count, let tens = Self.digit(self.bytes[self.position]),
            let ones = Self.digit(self.bytes[self.position + 1])
        else { return nil }
        self.position += 2
        return tens * 10 + ones
    }

    private static func digit(_ byte: UInt8) -> Int64? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int64(byte - UInt8(ascii: "0")) : nil
    }
}
