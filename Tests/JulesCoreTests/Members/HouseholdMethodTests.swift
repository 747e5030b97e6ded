import JSONRPC
import Postgres
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct HouseholdMethodTests {
    @Test func createThenGet() async throws {
        try await MembersHarness.run { harness in
            let created = try await harness.result(
                "household.create", ["name": "  The Smiths ", "timezone": "Asia/Tokyo"])
            #expect(created["name"] == "The Smiths", "surrounding whitespace is trimmed")
            #expect(created["timezone"] == "Asia/Tokyo")
            #expect(created["deleted_at"] == nil)
            let id = try #require(created["id"]?.stringValue)
            #expect(id == id.lowercased())
            #expect(try await harness.result("household.get", ["household_id": .string(id)]) == created)

            let utc = try await harness.result("household.create", ["name": "No zone given"])
            #expect(utc["timezone"] == "UTC")
        }
    }

    static let invalid: [(JSONValue, String)] = [
        (["name": ""], "params.name"),
        (["name": "   "], "params.name"),
        (["name": "line\nbreak"], "params.name"),
        (["name": .string(String(repeating: "x", count: 201))], "params.name"),
        // 150 letters with a combining accent each: 150 characters on screen, 300 code points for the database.
        (["name": .string(String(repeating: "e\u{301}", count: 150))], "params.name"),
        (["name": 42], "params.name"),
        ([:], "params.name"),
        (["name": "A", "timezone": "Mars/Olympus_Mons"], "params.timezone"),
        (["name": "A", "timezone": "UTC+5"], "params.timezone"),
        (["name": "A", "timezone": .string(String(repeating: "A", count: 65))], "params.timezone"),
        (["name": "A", "timezone": ""], "params.timezone"),
    ]

    @Test(arguments: invalid)
    func invalidHouseholdsAreRejectedNamingTheField(params: JSONValue, field: String) async throws {
        try await MembersHarness.run { harness in
            let error = try await harness.error("household.create", params)
            #expect(error["code"] == -32602)
            #expect(error["data"]?["field"]?.stringValue == field)
            let count = try await harness.database.query("SELECT count(*) AS n FROM households")[0].decode(
                "n", as: Int.self)
            #expect(count == 0, "nothing was written")
        }
    }

    @Test func unknownAndMalformedIDs() async throws {
        try await MembersHarness.run { harness in
            let missing = try await harness.error(
                "household.get", ["household_id": "7f2c1a52-4a5e-4c8e-9d55-0b6f0e3c2a11"])
            #expect(missing["code"] == -32001)
            #expect(missing["data"]?["type"] == "not_found")
            let malformed = try await harness.error("household.get", ["household_id": "not-a-uuid"])
            #expect(malformed["code"] == -32602)
            #expect(malformed["data"]?["field"] == "params.household_id")
        }
    }
}
