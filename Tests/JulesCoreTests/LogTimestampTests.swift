#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import Testing

@testable import JulesCore

/// The log line's timestamp, computed by hand, agrees with the C library's calendar.
@Suite struct LogTimestampTests {
    static func reference(_ seconds: Int64, milliseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let date = "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))"
        let clock = "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2))"
        return "\(date)T\(clock).\(padded(Int32(milliseconds), 3))Z"
    }

    static func ours(_ seconds: Int64, milliseconds: Int) -> String {
        var bytes = [UInt8]()
        LogTimestamp.write(seconds: seconds, milliseconds: milliseconds, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: [
        Int64(0), -1, 59, 86_399, 86_400, 951_782_400, 951_868_799, 978_307_200, 4_107_542_399, 4_107_542_400,
        1_795_978_869, 253_402_300_799, -86_401, -2_208_988_800, -30_610_224_000,
    ])
    func edges(_ seconds: Int64) {
        #expect(Self.ours(seconds, milliseconds: 7) == Self.reference(seconds, milliseconds: 7))
    }

    @Test func tenThousandRandomInstantsFromYear1000To9999() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let seconds = Int64.random(in: -30_610_224_000...253_402_300_799, using: &generator)
            let milliseconds = Int.random(in: 0...999, using: &generator)
            #expect(
                Self.ours(seconds, milliseconds: milliseconds) == Self.reference(seconds, milliseconds: milliseconds))
        }
    }

    @Test func nowHasTheShapeOfRFC3339() {
        var bytes = [UInt8]()
        LogTimestamp.write(into: &bytes)
        let now = String(decoding: bytes, as: UTF8.self)
        #expect(now.count == 24 && now.hasSuffix("Z") && now.dropFirst(10).first == "T")
    }

    @Test func apiTimestampsHaveMicroseconds() {
        #expect(
            LogTimestamp.microseconds(Date(timeIntervalSince1970: 1_795_000_000.25))
                == "2026-11-18T11:06:40.250000Z")
        #expect(LogTimestamp.microseconds(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        // The schema's Timestamp pattern.
        let now = LogTimestamp.microseconds(Date())
        #expect(now.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z/) != nil, "\(now)")
    }
}
