import Testing

@testable import Postgres

@Suite struct PostgresTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01 00:00:00.000000+00"),
        (Int64(-1), "1969-12-31 23:59:59.999999+00"),
        (Int64(951_825_600_123_456), "2000-02-29 12:00:00.123456+00"),
        (Int64(-62_135_596_800_000_000), "0001-01-01 00:00:00.000000+00"),
        (Int64(-62_135_596_800_000_001), "0001-12-31 23:59:59.999999+00 BC"),
    ])
    func formats(micros: Int64, text: String) {
        let timestamp = PostgresTimestamp(microsecondsSince1970: micros)
        #expect(timestamp.description == text)
        #expect(PostgresTimestamp(postgresText: Array(text.utf8)) == timestamp)
    }

    @Test(arguments: [
        ("2024-02-29 13:05:09.00025+05:30", Int64(1_709_192_109_000_250)),
        ("2024-02-29 07:35:09.00025+00", Int64(1_709_192_109_000_250)),
        ("2024-02-29 07:35:09.00025", Int64(1_709_192_109_000_250)),
        ("1900-01-01 00:00:00+00:53:28", Int64(-2_208_992_008_000_000)),
        ("2024-02-29", Int64(1_709_164_800_000_000)),
        ("1969-12-31 19:00:00-05", Int64(0)),
    ])
    func parsesPostgresOutput(text: String, micros: Int64) {
        #expect(PostgresTimestamp(postgresText: Array(text.utf8))?.microsecondsSince1970 == micros)
    }

    @Test(arguments: ["infinity", "-infinity", "", "2024-13-01", "2024-01-01 12:00", "2024-01-01 12:00:00 UTC"])
    func rejectsWhatItCannotRepresent(text: String) {
        #expect(PostgresTimestamp(postgresText: Array(text.utf8)) == nil)
    }

    @Test func roundTripsThroughItsText() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            // Roughly 4000 BC to 6000 AD.
            let micros = Int64.random(in: -188_000_000_000_000_000...127_000_000_000_000_000, using: &generator)
            let timestamp = PostgresTimestamp(microsecondsSince1970: micros)
            #expect(PostgresTimestamp(postgresText: Array(timestamp.description.utf8)) == timestamp)
        }
    }
}
