import Foundation
import Testing

@testable import Postgres

@Suite(.enabled(if: TestDatabase.isConfigured, TestDatabase.skipReason), .databaseAccess(.shared))
struct RoundTripTests {
    static let allBytes = (0...255).map { UInt8($0) }

    static let values: [PostgresValue] = [
        .bool(true), .bool(false),
        .int(0), .int(-1), .int(.min), .int(.max),
        .double(0), .double(-0.0), .double(.pi), .double(-1e-300), .double(.greatestFiniteMagnitude),
        .double(.leastNonzeroMagnitude), .double(.infinity), .double(-.infinity), .double(0.1 + 0.2),
        .json(#"{"a": [1, 2, {"b": null}], "ü": "ß"}"#),
        .uuid(UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")!),
        .timestamp(PostgresTimestamp(microsecondsSince1970: 1_709_192_109_000_250)),
        .timestamp(PostgresTimestamp(microsecondsSince1970: -62_135_596_800_000_001)),
        .bytes([]), .bytes(allBytes), .bytes(Array(repeating: 0, count: 3)),
    ]

    @Test(arguments: values)
    func valueRoundTripsAsParameterAndResult(value: PostgresValue) async throws {
        try await TestDatabase.withClient { client in
            let rows = try await client.query("SELECT $1 AS v", [value])
            #expect(try rows[0].decode("v", as: PostgresValue.self) == value)
        }
    }

    @Test(arguments: ["", "plain", "unicode: Grüße, 日本語, emoji 🧑‍🚀, RTL עברית", "long"])
    func textRoundTrips(text: String) async throws {
        // Generated here so that the test's name stays readable.
        let text = text == "long" ? String(repeating: "long ✓ ", count: 50_000) : text
        try await TestDatabase.withClient { client in
            let rows = try await client.query("SELECT $1::text AS v, length($1::text) AS n", [.text(text)])
            #expect(try rows[0].decode("v", as: String.self) == text)
            #expect(try rows[0].decode("n", as: Int.self) == text.unicodeScalars.count)
            #expect(try rows[0].decode(0, as: PostgresValue.self) == .text(text))
        }
    }

    @Test func typedDecodersReadEveryType() async throws {
        try await TestDatabase.withClient { client in
            let row = try await client.query(
                """
                SELECT $1::int8 AS big, $2::int8 AS small, 2147483647::int4 AS i4, 12::int2 AS i2, 1.5::float4 AS f4,
                       'NaN'::float8 AS nan, true AS yes, '\\x00ff'::bytea AS b, 42::numeric AS num,
                       '2024-02-29 13:05:09.00025+05:30'::timestamptz AS ts, '2024-02-29'::date AS day,
                       '2024-02-29 07:35:09.00025'::timestamp AS local
                """,
                [.int(.max), .int(.min)]
            )[0]
            #expect(try row.decode("big", as: Int64.self) == .max)
            #expect(try row.decode("small", as: Int64.self) == .min)
            #expect(try row.decode("i4", as: Int32.self) == .max)
            #expect(try row.decode("i2", as: Int.self) == 12)
            #expect(try row.decode("f4", as: Double.self) == 1.5)
            #expect(try row.decode("nan", as: Double.self).isNaN)
            #expect(try row.decode("yes", as: Bool.self))
            #expect(try row.decode("b", as: [UInt8].self) == [0, 255])
            #expect(try row.decode("num", as: Int.self) == 42)
            #expect(try row.decode("num", as: Double.self) == 42)
            #expect(try row.decode("num", as: PostgresValue.self) == .text("42"))
            let expected = PostgresTimestamp(microsecondsSince1970: 1_709_192_109_000_250)
            #expect(try row.decode("ts", as: PostgresTimestamp.self) == expected)
            #expect(try row.decode("local", as: PostgresTimestamp.self) == expected)
            #expect(try row.decode("ts", as: Date.self) == expected.date)
            #expect(try row.decode("day", as: PostgresTimestamp.self).microsecondsSince1970 == 1_709_164_800_000_000)
            #expect(throws: PostgresError.self) { try row.decode("big", as: Int32.self) }
            #expect(throws: PostgresError.self) { try row.decode("yes", as: Int.self) }
        }
    }

    @Test func nullsDecodeAsNilOrThrowNamingTheColumn() async throws {
        try await TestDatabase.withClient { client in
            let row = try await client.query(
                "SELECT $1::int8 AS i, $2::text AS t, $3::bytea AS b, $4::timestamptz AS ts, $5::bool AS f",
                [.null, .null, .null, .null, .null]
            )[0]
            #expect(try row.decode("i", as: Int64?.self) == nil)
            #expect(try row.decode("t", as: String?.self) == nil)
            #expect(try row.decode("b", as: [UInt8]?.self) == nil)
            #expect(try row.decode("ts", as: PostgresTimestamp?.self) == nil)
            #expect(try row.decode("f", as: Bool?.self) == nil)
            #expect(try row.decode("f", as: PostgresValue.self) == .null)
            #expect(try row.decode("f", as: PostgresValue?.self) == nil)
            do {
                _ = try row.decode("ts", as: PostgresTimestamp.self)
                Issue.record("a NULL decoded as a non-optional")
            } catch let error as PostgresError {
                #expect(error.code == .decodingFailed)
                #expect(error.message.contains("\"ts\""))
            }
            #expect(throws: PostgresError.self) { try row.decode("missing", as: Int?.self) }
        }
    }

    @Test func largeBinaryRoundTripsThroughATable() async throws {
        let table = TestDatabase.uniqueName("bytea")
        try await TestDatabase.withClient { client in
            _ = try await client.query("CREATE TABLE \(table) (id int8 PRIMARY KEY, data bytea, note text)")
            // 2 MiB of every byte value in a scrambled order (a multiplicative hash, cheaper than a random generator).
            let large = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) }
            let inserted = try await client.query(
                "INSERT INTO \(table) VALUES ($1, $2, $3), ($4, $5, $6)",
                [.int(1), .bytes(large), .text(""), .int(2), .bytes(Self.allBytes), .null]
            )
            #expect(inserted.affectedRows == 2)
            let rows = try await client.query("SELECT id, data, note FROM \(table) ORDER BY id")
            #expect(rows.count == 2)
            #expect(rows.columns == ["id", "data", "note"])
            #expect(try rows[0].decode("data", as: [UInt8].self) == large)
            #expect(try rows[0].decode("note", as: String?.self) == "")
            #expect(try rows[1].decode("data", as: [UInt8].self) == Self.allBytes)
            #expect(try rows[1].decode("note", as: String?.self) == nil)
            #expect(try rows.map { try $0.decode("id", as: Int.self) } == [1, 2])
            _ = try await client.query("DROP TABLE \(table)")
        }
    }

    @Test func parametersAreNeverInterpolated() async throws {
        try await TestDatabase.withClient { client in
            let hostile = "'); DROP TABLE pg_class; --"
            let rows = try await client.query("SELECT $1::text AS v", [.text(hostile)])
            #expect(try rows[0].decode("v", as: String.self) == hostile)
            let error = await expectPostgresError { _ = try await client.query("SELECT $1::text", [.text("a\u{0}b")]) }
            #expect(error?.sqlState == "22021")
        }
    }

    @Test func multipleStatementsWithoutParametersAndEmptyResults() async throws {
        try await TestDatabase.withClient { client in
            let rows = try await client.query("SELECT 1; SELECT 2 AS two WHERE false")
            #expect(rows.isEmpty)
            #expect(rows.columns == ["two"])
            let empty = try await client.query("")
            #expect(empty.isEmpty && empty.columns.isEmpty)
            let set = try await client.query("SET application_name = 'x'")
            #expect(set.commandTag == "SET")
        }
    }
}
