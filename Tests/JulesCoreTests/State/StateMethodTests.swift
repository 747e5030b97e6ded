import Foundation
import JSONRPC
import JulesCore
import Postgres
import Redis
import Testing

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StateMethodTests {
    @Test func getUpdateMergeDeleteWithVersions() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let id = JSONValue.string(household)
            let empty = try await harness.result("state.get", ["household_id": id])
            #expect(empty == ["state": nil, "version": 0, "source": "database"])

            let first = try await harness.result(
                "state.update",
                [
                    "household_id": id,
                    "state": ["current_flow": "recipe_submission", "step": "confirming", "n": [1, 2]],
                ])
            #expect(first == ["version": 1])
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(read["source"] == "cache")
            #expect(read["version"] == 1)
            #expect(read["state"] == ["current_flow": "recipe_submission", "step": "confirming", "n": [1, 2]])

            let merged = try await harness.result(
                "state.update",
                ["household_id": id, "mode": "merge", "state": ["step": "done", "n": nil, "extra": ["a": 1]]])
            #expect(merged == ["version": 2])
            #expect(
                try await harness.result("state.get", ["household_id": id])["state"]
                    == ["current_flow": "recipe_submission", "step": "done", "extra": ["a": 1]])

            let deleted = try await harness.result("state.delete", ["household_id": id])
            #expect(deleted == ["version": 3])
            let afterDelete = try await harness.result("state.get", ["household_id": id])
            #expect(afterDelete["state"] == nil || afterDelete["state"] == .null)
            #expect(afterDelete["version"] == 3)
            let again = try await harness.result("state.update", ["household_id": id, "state": ["step": "new"]])
            #expect(again == ["version": 4], "versions go on after a delete")
        }
    }

    @Test func compareAndSetConflictsCarryTheCurrentVersion() async throws {
        try await MembersHarness.run { harness in
            let id = JSONValue.string(try await harness.createHousehold())
            _ = try await harness.result("state.update", ["household_id": id, "state": ["a": 1]])
            let stale = try await harness.error(
                "state.update", ["household_id": id, "state": ["a": 2], "expected_version": 0])
            #expect(stale["code"] == -32002)
            #expect(stale["data"]?["type"] == "conflict")
            #expect(stale["data"]?["current_version"] == 1)
            let staleMerge = try await harness.error(
                "state.update", ["household_id": id, "state": ["a": 2], "mode": "merge", "expected_version": 7])
            #expect(staleMerge["data"]?["current_version"] == 1)
            let staleDelete = try await harness.error("state.delete", ["household_id": id, "expected_version": 5])
            #expect(staleDelete["data"]?["current_version"] == 1)
            #expect(try await harness.result("state.get", ["household_id": id])["state"] == ["a": 1], "nothing changed")
            let ok = try await harness.result(
                "state.update", ["household_id": id, "state": ["a": 3], "expected_version": 1])
            #expect(ok == ["version": 2])
        }
    }

    @Test func exactlyOneOfManyRacingCompareAndSetWritersWins() async throws {
        try await MembersHarness.run { harness in
            let id = JSONValue.string(try await harness.createHousehold())
            _ = try await harness.result("state.update", ["household_id": id, "state": ["turn": 0]])
            let outcomes = try await withThrowingTaskGroup(of: JSONValue.self) { group in
                for writer in 0..<24 {
                    group.addTask {
                        try await harness.call(
                            "state.update",
                            ["household_id": id, "state": ["turn": .string("writer \(writer)")], "expected_version": 1])
                    }
                }
                return try await group.reduce(into: [JSONValue]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0["result"] != nil }.count == 1)
            #expect(outcomes.filter { $0["error"]?["data"]?["type"] == "conflict" }.count == 23)
        }
    }

    @Test func concurrentMergesAllLandWithStrictlyIncreasingVersions() async throws {
        try await MembersHarness.run { harness in
            let id = JSONValue.string(try await harness.createHousehold())
            let versions = try await withThrowingTaskGroup(of: Int?.self) { group in
                for writer in 0..<40 {
                    group.addTask {
                        let response = try await harness.call(
                            "state.update",
                            ["household_id": id, "mode": "merge", "state": [.init("w\(writer)"): true]])
                        return response["result"]?["version"]?.intValue
                    }
                }
                return try await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(versions.compactMap { $0 }.sorted() == Array(1...40), "each merge got its own version")
            let state = try await harness.result("state.get", ["household_id": id])
            #expect(state["state"]?.objectValue?.count == 40, "no merge was lost")
        }
    }

    @Test func invalidUpdatesAreRejectedNamingTheField() async throws {
        try await MembersHarness.run { harness in
            let id = JSONValue.string(try await harness.createHousehold())
            let big = JSONValue.string(String(repeating: "x", count: 70_000))
            let cases: [(JSONValue, String)] = [
                (["household_id": id, "state": [1, 2]], "params.state"),
                (["household_id": id, "state": "text"], "params.state"),
                (["household_id": id], "params.state"),
                (["household_id": id, "state": ["big": big]], "params.state"),
                (["household_id": id, "state": ["big": big], "mode": "merge"], "params.state"),
                (["household_id": id, "state": [:], "mode": "upsert"], "params.mode"),
                (["household_id": id, "state": [:], "expected_version": -1], "params.expected_version"),
                (["household_id": id, "state": [:], "expected_version": 1.5], "params.expected_version"),
                (["household_id": "nope", "state": [:]], "params.household_id"),
            ]
            for (params, field) in cases {
                let error = try await harness.error("state.update", params)
                #expect(error["code"] == -32602, "\(params)")
                #expect(error["data"]?["field"]?.stringValue == field, "\(params)")
            }
            // What PostgreSQL's jsonb would refuse, or write back enormous, is refused before it is acknowledged
            // (and so never reaches the journal).
            let number = { (text: String) in JSONValue.number(text) }
            let unstorable: [(JSONValue, String)] = [
                (["note": "a\u{0}b"], "params.state.note"),
                (["steps": [1, ["x": "\u{0}"]]], "params.state.steps[1].x"),
                (["a\u{0}": true], "params.state.a\u{0}"),
                (["n": number("1e999")], "params.state.n"),
                (["n": number("1e401")], "params.state.n"),
                (["n": number("0e-999999")], "params.state.n"),
                (["n": number("1e1000000000000000000000")], "params.state.n"),
                (["n": number(String(repeating: "7", count: 1_001))], "params.state.n"),
            ]
            for (state, field) in unstorable {
                for mode: JSONValue in ["replace", "merge"] {
                    let error = try await harness.error(
                        "state.update", ["household_id": id, "state": state, "mode": mode])
                    #expect(error["code"] == -32602, "\(state)")
                    #expect(error["data"]?["field"]?.stringValue == field, "\(state)")
                }
            }
            let scalarPatch = try await harness.error(
                "state.update", ["household_id": id, "state": 5, "mode": "merge"])
            #expect(scalarPatch["data"]?["field"] == "params.state", "a merge must leave an object")
            #expect(try await harness.result("state.get", ["household_id": id])["version"] == 0, "nothing was written")
        }
    }

    @Test func numbersWithinTheLimitsAreStoredAsGiven() async throws {
        try await MembersHarness.run { harness in
            let id = JSONValue.string(try await harness.createHousehold())
            let state: JSONValue = [
                "tiny": .number("1e-400"), "big": .number("1.5e308"), "zero": .number("-0.0e-5"),
                "long": .number(String(repeating: "9", count: 1_000)),
            ]
            #expect(try await harness.result("state.update", ["household_id": id, "state": state])["version"] == 1)
            #expect(try await harness.result("state.get", ["household_id": id])["state"] == state)
        }
    }

    @Test func unknownHouseholdsAreNotFound() async throws {
        try await MembersHarness.run { harness in
            let missing: JSONValue = "7f2c1a52-4a5e-4c8e-9d55-0b6f0e3c2a11"
            for (method, params) in [
                ("state.get", ["household_id": missing] as JSONValue),
                ("state.update", ["household_id": missing, "state": [:]]),
                ("state.update", ["household_id": missing, "state": [:], "mode": "merge"]),
                ("state.delete", ["household_id": missing]),
            ] {
                let error = try await harness.error(method, params)
                #expect(error["data"]?["type"] == "not_found", "\(method)")
            }
        }
    }

    @Test func durableWritesAreInPostgreSQLBeforeTheAnswer() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let result = try await harness.result(
                "state.update", ["household_id": .string(household), "state": ["step": "saved"], "durable": true])
            let row = try await harness.database.query(
                "SELECT state::text AS state, version FROM conversation_states WHERE household_id = $1",
                [.text(household)])
            #expect(row.count == 1)
            #expect(try row[0].decode("version", as: Int.self) == result["version"]?.intValue)
            #expect(try JSONParser.parse(try row[0].decode("state", as: String.self)) == ["step": "saved"])
        }
    }
}
