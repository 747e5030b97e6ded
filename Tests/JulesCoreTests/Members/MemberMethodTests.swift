import JSONRPC
import Postgres
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct MemberMethodTests {
    @Test func addGetFindListWithMaskedNumbers() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let ann = try await harness.addMember(household: household, name: "Ann Smith", phone: "(415) 555-0123")
            #expect(ann["name"] == "Ann Smith")
            #expect(ann["phone"] == "+1******0123")
            #expect(ann["phone_e164"] == nil)
            #expect(ann["opt_in_state"] == "pending")
            #expect(ann["household_id"]?.stringValue == household)
            let id = try #require(ann["id"]?.stringValue)

            #expect(try await harness.result("member.get", ["member_id": .string(id)]) == ann)
            let revealed = try await harness.result("member.get", ["member_id": .string(id), "reveal_phone": true])
            #expect(revealed["phone_e164"] == "+14155550123")

            for written in ["+1 415 555 0123", "001 415-555-0123", "415.555.0123", "1 (415) 555 0123"] {
                let found = try await harness.result("member.find", ["phone": .string(written)])
                #expect(found["id"]?.stringValue == id, "\(written) finds the member")
            }
            let nobody = try await harness.error("member.find", ["phone": "+14155550199"])
            #expect(nobody["data"]?["type"] == "not_found")

            _ = try await harness.addMember(household: household, name: "Bo", phone: "+44 7911 123456")
            let list = try await harness.result("member.list", ["household_id": .string(household)])
            #expect(list["members"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Ann Smith", "Bo"])
            #expect(list["next_after"] == nil)
            #expect(list["members"]?.arrayValue?.last?["phone"] == "+44******3456")
        }
    }

    @Test func listPagesThroughEveryMemberOnce() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            for index in 0..<7 {
                _ = try await harness.addMember(
                    household: household, name: "M\(index)", phone: "+1415555\(1000 + index)")
            }
            var names: [String] = []
            var after: JSONValue = nil
            var pages = 0
            repeat {
                var params: JSONObject = ["household_id": .string(household), "limit": 3]
                if after != nil { params["after"] = after }
                let page = try await harness.result("member.list", .object(params))
                names += page["members"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                after = page["next_after"] ?? nil
                pages += 1
            } while after != nil && pages < 10
            #expect(names == (0..<7).map { "M\($0)" })
            #expect(pages == 3)
            let tooMany = try await harness.error("member.list", ["household_id": .string(household), "limit": 1001])
            #expect(tooMany["data"]?["field"] == "params.limit")
        }
    }

    @Test func aDuplicateNumberInAnyFormatIsAConflictNamingTheMember() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let other = try await harness.createHousehold("The Joneses")
            let ann = try await harness.addMember(household: household, name: "Ann", phone: "+1 (415) 555-0123")
            for written in ["4155550123", "+14155550123", "011 1 415 555 0123"] {
                let error = try await harness.error(
                    "member.add", ["household_id": .string(other), "name": "Again", "phone": .string(written)])
                #expect(error["code"] == -32002)
                #expect(error["data"]?["type"] == "conflict")
                #expect(error["data"]?["member_id"] == ann["id"])
                #expect(error["data"]?["household_id"]?.stringValue == household)
                #expect(error["data"]?["correlation_id"]?.stringValue?.isEmpty == false)
            }
        }
    }

    @Test func aDeletedOrErasedMembersNumberCanBeAddedAgain() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let first = try await harness.addMember(household: household, name: "Ann", phone: "+14155550123")
            let deleted = try await harness.result("member.delete", ["member_id": first["id"]!])
            #expect(deleted["deleted_at"] != nil)
            #expect(deleted["name"] == "Ann", "a soft-deleted member keeps its data")
            let again = try await harness.result("member.delete", ["member_id": first["id"]!])
            #expect(again["deleted_at"] == deleted["deleted_at"], "deleting twice changes nothing")

            let second = try await harness.addMember(
                household: household, name: "Ann (new phone owner)", phone: "415 555 0123")
            #expect(second["id"] != first["id"])
            let found = try await harness.result("member.find", ["phone": "+14155550123"])
            #expect(found["id"] == second["id"], "find sees only the live member")

            let erased = try await harness.result("member.erase", ["member_id": second["id"]!])
            #expect(erased["name"] == nil)
            #expect(erased["phone"] == nil)
            #expect(erased["erased_at"] != nil)
            #expect(erased["deleted_at"] != nil)
            let row = try await harness.database.query(
                "SELECT name_ciphertext, phone_ciphertext, phone_blind_index FROM members WHERE id = $1",
                [.text(second["id"]!.stringValue!)])[0]
            #expect(try row.decode("name_ciphertext", as: String?.self) == nil)
            #expect(try row.decode("phone_ciphertext", as: String?.self) == nil)
            #expect(try row.decode("phone_blind_index", as: String.self).count == 64, "the blind index stays")
            _ = try await harness.addMember(household: household, name: "Third", phone: "+1 415 555 0123")
        }
    }

    @Test func concurrentAddsOfOneNumberLetExactlyOneIn() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let codes = try await withThrowingTaskGroup(of: Int?.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let response = try await harness.call(
                            "member.add",
                            [
                                "household_id": .string(household), "name": .string("Racer \(index)"),
                                "phone": "+14155550123",
                            ]
                        )
                        return response["error"]?["code"]?.intValue
                    }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(codes.filter { $0 == nil }.count == 1)
            #expect(codes.filter { $0 == -32002 }.count == 11)
        }
    }

    static let invalid: [(JSONObject, String)] = [
        (["name": "Ann", "phone": "12"], "params.phone"),
        (["name": "Ann", "phone": "+999 123 456 789"], "params.phone"),
        (["name": "Ann", "phone": "call me maybe"], "params.phone"),
        (["name": "Ann", "phone": "415 555 0123 ext. 7"], "params.phone"),
        (["name": "Ann", "phone": .string(String(repeating: "1", count: 65))], "params.phone"),
        (["name": "Ann", "phone": 4_155_550_123], "params.phone"),
        (["name": "Ann"], "params.phone"),
        (["name": "", "phone": "+14155550123"], "params.name"),
        (["name": "tab\there", "phone": "+14155550123"], "params.name"),
        (["name": .string(String(repeating: "é", count: 101)), "phone": "+14155550123"], "params.name"),
        (["name": "Ann", "phone": "+14155550123", "opt_in_state": "maybe"], "params.opt_in_state"),
    ]

    @Test(arguments: invalid)
    func invalidMembersAreRejectedNamingTheField(params: JSONObject, field: String) async throws {
        try await MembersHarness.run { harness in
            var params = params
            params["household_id"] = .string(try await harness.createHousehold())
            let error = try await harness.error("member.add", .object(params))
            #expect(error["code"] == -32602)
            #expect(error["data"]?["field"]?.stringValue == field)
            let count = try await harness.database.query("SELECT count(*) AS n FROM members")[0].decode(
                "n", as: Int.self)
            #expect(count == 0, "nothing was written")
        }
    }

    @Test func membersOfMissingOrDeletedHouseholdsAreNotFound() async throws {
        try await MembersHarness.run { harness in
            let missing = "7f2c1a52-4a5e-4c8e-9d55-0b6f0e3c2a11"
            let error = try await harness.error(
                "member.add", ["household_id": .string(missing), "name": "Ann", "phone": "+14155550123"])
            #expect(error["data"]?["type"] == "not_found")
            #expect(error["data"]?["household_id"]?.stringValue == missing)

            let household = try await harness.createHousehold()
            _ = try await harness.database.query(
                "UPDATE households SET deleted_at = now() WHERE id = $1", [.text(household)])
            let deleted = try await harness.error(
                "member.add", ["household_id": .string(household), "name": "Ann", "phone": "+14155550123"])
            #expect(deleted["data"]?["type"] == "not_found")
            let list = try await harness.error("member.list", ["household_id": .string(missing)])
            #expect(list["data"]?["type"] == "not_found")
            for method in ["member.get", "member.delete", "member.erase", "member.optIn", "member.optOut"] {
                let error = try await harness.error(method, ["member_id": .string(missing)])
                #expect(error["data"]?["type"] == "not_found", "\(method)")
            }
        }
    }

    @Test func theDatabaseHoldsNoPlaintextNameOrNumber() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            _ = try await harness.addMember(household: household, name: "Zebedee Quux", phone: "+1 415 555 0123")
            let rows = try await harness.database.query(
                """
                SELECT (SELECT string_agg(row_to_json(m)::text, '') FROM members m) AS members,
                       (SELECT string_agg(row_to_json(a)::text, '') FROM opt_in_audit_log a) AS audit
                """
            )
            let text = try rows[0].decode("members", as: String.self) + (try rows[0].decode("audit", as: String.self))
            for secret in ["Zebedee", "Quux", "4155550123", "555-0123"] {
                #expect(!text.contains(secret), "\(secret) is stored in the clear")
            }
        }
    }
}
