import JSONRPC
import Testing

/// Every member method, successes and failures, with every log level on: no log line holds a full phone number.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct LogHygieneTests {
    @Test func noFullPhoneNumberReachesALog() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let phones = ["+1 (415) 555-0123", "+44 7911 123456", "+49 30 12345678"]
            var ids: [JSONValue] = []
            for (index, phone) in phones.enumerated() {
                ids.append(
                    try #require(
                        try await harness.addMember(household: household, name: "P\(index)", phone: phone)["id"]))
            }
            let calls: [(String, JSONValue)] = [
                ("member.add", ["household_id": .string(household), "name": "Dup", "phone": "4155550123"]),
                ("member.add", ["household_id": .string(household), "name": "Bad", "phone": "+1 415 555 01234567"]),
                ("member.add", ["household_id": "nope", "name": "Bad", "phone": "+14155550123"]),
                ("member.find", ["phone": "+14155550123"]),
                ("member.find", ["phone": "+14155550124"]),
                ("member.find", ["phone": "4155550123", "_meta": ["correlation_id": "find-by-national-number"]]),
                ("member.get", ["member_id": ids[0], "reveal_phone": true]),
                ("member.list", ["household_id": .string(household)]),
                ("member.optIn", ["member_id": ids[0], "source": "sms_keyword", "keyword": "START"]),
                ("member.optOut", ["member_id": ids[1], "source": "carrier"]),
                ("audit.list", ["phone": "+44 7911 123456"]),
                ("audit.list", ["phone": "+1 415 555 0123 ext 9"]),
                ("member.delete", ["member_id": ids[1]]),
                ("member.erase", ["member_id": ids[2]]),
                ("encryption.encrypt", ["plaintext": "+14155550123"]),
                ("encryption.decrypt", ["token": "+14155550123"]),
                ("encryption.status", [:]),
            ]
            for (method, params) in calls {
                _ = try await harness.call(method, params)
            }
            let logs = harness.logs.captured.joined()
            #expect(logs.contains("\"method\":\"member.add\""), "the request lines were captured")
            for digits in ["4155550123", "7911123456", "3012345678", "415 555 0123", "555-0123", "7911 123456"] {
                #expect(!logs.contains(digits), "a log line holds \(digits)")
            }
        }
    }
}
