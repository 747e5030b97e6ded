#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Postgres

/// RFC 3339 timestamps in UTC: with milliseconds for log lines, with microseconds for the API.
enum LogTimestamp {
    /// Appends the current time to `bytes`: on the path of every log line, so without `gmtime_r` or a `String`.
    static func write(into bytes: inout [UInt8]) {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        write(seconds: Int64(spec.tv_sec), milliseconds: Int(spec.tv_nsec) / 1_000_000, into: &bytes)
    }

    /// Appends the time `seconds` after the Unix epoch, plus `milliseconds`.
    static func write(seconds: Int64, milliseconds: Int, into bytes: inout [UInt8]) {
        write(seconds: seconds, fraction: milliseconds, fractionDigits: 3, into: &bytes)
    }

    /// `date` as the API writes timestamps: RFC 3339 in UTC with microseconds (`2026-11-29T13:11:48.242509Z`), as
    /// PostgreSQL's `jules_rfc3339` does for stored times.
    static func microseconds(_ date: Date) -> String {
        let total = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        let seconds = Int64((total / 1_000_000).rounded(.down))
        var bytes: [UInt8] = []
        write(seconds: seconds, fraction: Int(total - Double(seconds) * 1_000_000), fractionDigits: 6, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func write(seconds: Int64, fraction: Int, fractionDigits: Int, into bytes: inout [UInt8]) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = CivilCalendar.date(fromDaysSince1970: days)
        append(Int(year), digits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        append(Int(month), digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        append(Int(day), digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        append(secondOfDay / 3600, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay / 60 % 60, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        append(secondOfDay % 60, digits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        append(fraction, digits: fractionDigits, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    private static func append(_ value: Int, digits: Int, to bytes: inout [UInt8]) {
        switch digits {
        case 2:
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10))
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10))
        default:
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
    }
}
