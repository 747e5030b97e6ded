/// A point in time with PostgreSQL's precision (microseconds), as stored by `timestamptz`.
///
/// Microseconds since 1970-01-01 00:00:00 UTC in an `Int64` round-trip exactly, which a `Double` of seconds or a
/// `Date` cannot promise for every value. Decoding also accepts `timestamp` (read as UTC) and `date` (midnight UTC).
public struct PostgresTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Microseconds since 1970-01-01 00:00:00 UTC; negative before it.
    public var microsecondsSince1970: Int64

    /// Creates a timestamp from microseconds since 1970-01-01 00:00:00 UTC.
    public init(microsecondsSince1970: Int64) {
        self.microsecondsSince1970 = microsecondsSince1970
    }

    /// Creates a timestamp from seconds since 1970, rounded to the nearest microsecond.
    public init(secondsSince1970: Double) {
        self.microsecondsSince1970 = Int64((secondsSince1970 * 1_000_000).rounded())
    }

    /// Seconds since 1970-01-01 00:00:00 UTC.
    public var secondsSince1970: Double {
        Double(self.microsecondsSince1970) / 1_000_000
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.microsecondsSince1970 < rhs.microsecondsSince1970
    }

    /// The ISO form PostgreSQL reads and writes, in UTC, e.g. `2024-02-29 13:05:09.000250+00`.
    public var description: String { self.postgresText }
}

extension PostgresTimestamp {
    static let microsecondsPerSecond: Int64 = 1_000_000
    static let secondsPerDay: Int64 = 86_400

    /// The text sent as a parameter: always UTC, always six fractional digits, ` BC` for years before 1 AD.
    var postgresText: String {
        let microsPerDay = Self.secondsPerDay * Self.microsecondsPerSecond
        let (quotient, remainder) = self.microsecondsSince1970.quotientAndRemainder(dividingBy: microsPerDay)
        // Floor division: the time of day must be positive even before 1970.
        let days = remainder < 0 ? quotient - 1 : quotient
        let microsOfDay = remainder < 0 ? remainder + microsPerDay : remainder
        let (year, month, day) = CivilCalendar.date(fromDaysSince1970: days)
        let seconds = microsOfDay / Self.microsecondsPerSecond
        let fraction = microsOfDay % Self.microsecondsPerSecond
        // Astronomical year 0 is 1 BC.
        let shownYear = year > 0 ? year : 1 - year
        var text = Self.padded(shownYear, 4) + "-" + Self.padded(month, 2) + "-" + Self.padded(day, 2)
        text += " " + Self.padded(seconds / 3600, 2) + ":" + Self.padded(seconds / 60 % 60, 2)
        text += ":" + Self.padded(seconds % 60, 2) + "." + Self.padded(fraction, 6) + "+00"
        return year > 0 ? text : text + " BC"
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// Proleptic Gregorian calendar arithmetic on day counts (the well-known "days from civil" algorithms), with
/// astronomical years (0 = 1 BC) as PostgreSQL uses them internally. Public for the log lines' timestamps.
public enum CivilCalendar {
    public static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func date(fromDaysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
