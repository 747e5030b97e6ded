import Foundation
import Testing

/// One case from the fernet/spec vector files in `Fixtures/fernet` (see `SOURCE.md` there for provenance).
struct FernetVector: Decodable, Sendable, CustomTestStringConvertible {
    let token: String
    let now: String
    let secret: String
    let iv: [UInt8]?
    let src: String?
    let ttlSeconds: Int64?
    let desc: String?

    enum CodingKeys: String, CodingKey {
        case token, now, secret, iv, src, desc
        case ttlSeconds = "ttl_sec"
    }

    var testDescription: String { desc ?? src ?? token }

    /// `now` as Unix seconds; the files use RFC 3339 with a UTC offset.
    var nowUnixSeconds: Int64 {
        get throws {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            guard let date = formatter.date(from: now) else {
                throw VectorError.badTimestamp(now)
            }
            return Int64(date.timeIntervalSince1970)
        }
    }

    enum VectorError: Error {
        case badTimestamp(String)
    }

    /// Loads a vector file from the fixtures folder next to this source tree; SwiftPM resources are avoided so the
    /// files stay byte-for-byte copies that can be diffed against upstream.
    static func load(_ name: String) throws -> [FernetVector] {
        let fixtures = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fernet")
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode([FernetVector].self, from: data)
    }
}
