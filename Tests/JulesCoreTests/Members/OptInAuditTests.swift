import JSONRPC
import Postgres
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct OptInAuditTests {
    static func withMeta(_ params: JSONObject, correlationID: String) -> JSONValue {
        var params = params
        params["_meta"] = ["correlation_id": .string(correlationID)]
        return .object(params)
    }

    static func auditRows(_ harness: MembersHarness, member: JSONValue) async throws -> [JSONValue] {
        try await harness.result("audit.list", ["member_id": member])["entries"]?.arrayValue ?? []
    }

    @Test func everyChangeLeavesExactlyOneRowWithItsCorrelationID() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let added = try await harness.result(
                "member.add",
                Self.withMeta(
                    ["household_id": .string(household), "name": "Ann", "phone": "+14155550123"],
                    correlationID: "add-1"
                )
            )
            let member = try #require(added["id"])
            let optIn = try await harness.result(
                "member.optIn",
                Self.withMeta(
                    [
                        "member_id": member, "source": "sms_keyword", "keyword": "start",
                        "message_sid": .string("SM" + String(repeating: "a1", count: 16)),
                    ],
                    correlationID: "in-1"
                )
            )
            #expect(optIn["changed"] == true)
            #expect(optIn["member"]?["opt_in_state"] == "opted_in")
            let repeated = try await harness.result(
                "member.optIn", Self.withMeta(["member_id": member], correlationID: "in-2"))
            #expect(repeated["changed"] == false, "already opted in: nothing to record")
            let optOut = try await harness.result(
                "member.optOut", Self.withMeta(["member_id": member, "source": "carrier"], correlationID: "out-1"))
            #expect(optOut["member"]?["opt_in_state"] == "opted_out")

            let rows = try await Self.auditRows(harness, member: member)
            #expect(rows.map { $0["correlation_id"]?.stringValue } == ["add-1", "in-1", "out-1"])
            #expect(rows.map { $0["old_state"]?.stringValue } == [nil, "pending", "opted_in"])
            #expect(rows.map { $0["new_state"]?.stringValue } == ["pending", "opted_in", "opted_out"])
            #expect(rows.map { $0["source"]?.stringValue } == ["api", "sms_keyword", "carrier"])
            #expect(rows[1]["keyword"] == "START")
            #expect(rows[1]["message_sid"]?.stringValue == "SM" + String(repeating: "a1", count: 16))
        }
    }

    @Test func aNumberInAClientsKeywordOrCorrelationIDIsMaskedBeforeTheAuditLogKeepsIt() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let added = try await harness.result(
                "member.add", ["household_id": .string(household), "name": "Ann", "phone": "+14155550123"])
            let member = try #require(added["id"])
            _ = try await harness.result(
                "member.optOut",
                Self.withMeta(
                    ["member_id": member, "source": "sms_keyword", "keyword": "14155550124"],
                    correlationID: "otp-14155550125"))
            let rows = try await Self.auditRows(harness, member: member)
            let last = try #require(rows.last)
            #expect(last["keyword"] == "*******0124")
            #expect(last["correlation_id"] == "otp-*******0125")
            let stored = try await harness.database.query(
                "SELECT keyword, correlation_id FROM opt_in_audit_log WHERE correlation_id LIKE 'otp-%'")
            let row = try #require(stored.first)
            let keyword: String? = try row.decode("keyword")
            let correlationID: String? = try row.decode("correlation_id")
            #expect(keyword == "*******0124" && correlationID == "otp-*******0125", "masked where it is stored")
        }
    }

    @Test func aChangeMadeInSQLIsRecordedAsOperatorWithoutAContextLeak() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let member = try #require(
                try await harness.addMember(household: household, name: "A", phone: "+14155550123")["id"])
            _ = try await harness.result("member.optIn", Self.withMeta(["member_id": member], correlationID: "via-api"))
            // Plain SQL on the same pooled connections: the request's context must not linger.
            for _ in 0..<4 {
                _ = try await harness.database.query(
                    "UPDATE members SET opt_in_state = CASE opt_in_state WHEN 'opted_in' THEN 'opted_out' ELSE 'opted_in' END WHERE id = $1",
                    [.text(member.stringValue!)]
                )
            }
            let rows = try await Self.auditRows(harness, member: member)
            #expect(rows.count == 6)
            #expect(rows.dropFirst(2).allSatisfy { $0["source"] == "operator" && $0["correlation_id"] == nil })
        }
    }

    @Test func theAuditLogRejectsUpdateDeleteAndTruncate() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            _ = try await harness.addMember(household: household, name: "A", phone: "+14155550123")
            for statement in [
                "UPDATE opt_in_audit_log SET source = 'api'",
                "DELETE FROM opt_in_audit_log",
                "TRUNCATE opt_in_audit_log",
            ] {
                let error = await #expect(throws: PostgresError.self, "\(statement)") {
                    try await harness.database.query(statement)
                }
                #expect(error?.sqlState == "42501")
            }
            let count = try await harness.database.query("SELECT count(*) AS n FROM opt_in_audit_log")[0]
                .decode("n", as: Int.self)
            #expect(count == 1)
        }
    }

    @Test func auditRowsOutliveErasureAndAreFoundByNumber() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let member = try #require(
                try await harness.addMember(household: household, name: "A", phone: "+14155550123")["id"])
            _ = try await harness.result("member.optOut", ["member_id": member])
            _ = try await harness.result("member.erase", ["member_id": member])
            let byNumber = try await harness.result("audit.list", ["phone": "(415) 555-0123"])
            #expect(byNumber["entries"]?.arrayValue?.map { $0["new_state"] } == ["pending", "opted_out"])
            let byHousehold = try await harness.result("audit.list", ["household_id": .string(household), "limit": 1])
            #expect(byHousehold["entries"]?.arrayValue?.count == 1)
            #expect(byHousehold["next_after_id"] != nil)
            let next = try await harness.result(
                "audit.list", ["household_id": .string(household), "after_id": byHousehold["next_after_id"]!])
            #expect(next["entries"]?.arrayValue?.first?["new_state"] == "opted_out")
            let optIn = try await harness.error("member.optIn", ["member_id": member])
            #expect(optIn["data"]?["type"] == "not_found", "an erased member cannot opt in")
        }
    }

    static let invalid: [(JSONObject, String)] = [
        (["source": "operator"], "params.source"),
        (["source": "fax"], "params.source"),
        (["source": "sms_keyword"], "params.keyword"),
        (["source": "sms_keyword", "keyword": "ST OP"], "params.keyword"),
        (["keyword": .string(String(repeating: "A", count: 33))], "params.keyword"),
        (["message_sid": "SM123"], "params.message_sid"),
        (["message_sid": .string("SM" + String(repeating: "G", count: 32))], "params.message_sid"),
    ]

    @Test(arguments: invalid)
    func invalidChangesAreRejectedAndRecordNothing(params: JSONObject, field: String) async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let member = try #require(
                try await harness.addMember(household: household, name: "A", phone: "+14155550123")["id"])
            var params = params
            params["member_id"] = member
            let error = try await harness.error("member.optOut", .object(params))
            #expect(error["data"]?["field"]?.stringValue == field)
            #expect(try await Self.auditRows(harness, member: member).count == 1)
        }
    }
}
