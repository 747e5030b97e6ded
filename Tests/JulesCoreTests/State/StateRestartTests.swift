import Foundation
import JSONRPC
import JulesCore
import Postgres
import Redis
import Testing

/// Redis stopped and started again under conversation state (these stop the shared Redis, so they run in the
/// serial pass of tests whose names contain "Restart").
@Suite(.serialized, .enabled(if: StorageTestSupport.canRestart, "needs JULES_TEST_SERVICES to stop and start servers"))
struct StateRestartTests {
    @Test func writesDuringARedisOutageGoToPostgreSQLAndNoStaleCopySurvivesTheReturn() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let id = JSONValue.string(household)
            // Acknowledged through the cache, not yet persisted: these sit in the journal when Redis stops.
            for index in 1...3 {
                _ = try await harness.result("state.update", ["household_id": id, "state": ["n": .init(index)]])
            }
            try StorageTestSupport.runServices("redis stop")
            do {
                let during = try await harness.result("state.update", ["household_id": id, "state": ["n": 4]])
                let version = try #require(during["version"]?.intValue)
                #expect(version > 3, "a write around the cache outranks everything in the journal")
                let merged = try await harness.result(
                    "state.update", ["household_id": id, "mode": "merge", "state": ["m": true]])
                #expect((merged["version"]?.intValue ?? 0) > version)
                let scalar = try await harness.error(
                    "state.update", ["household_id": id, "mode": "merge", "state": 5])
                #expect(scalar["data"]?["field"] == "params.state", "a merge must leave an object, also around Redis")
                let read = try await harness.result("state.get", ["household_id": id])
                #expect(read["source"] == "database")
                #expect(read["state"] == ["n": 4, "m": true])
                #expect(try await harness.result("state.stats")["mode"] == "database")
                let health = try await harness.result("health.check")
                #expect(health["components"]?["state"]?["status"] == "degraded")
                let conflict = try await harness.error(
                    "state.update", ["household_id": id, "state": [:], "expected_version": 2])
                #expect(conflict["data"]?["current_version"] == merged["version"])
            } catch {
                try StorageTestSupport.runServices("redis start")
                throw error
            }
            try StorageTestSupport.runServices("redis start")

            // The cached copy (version 3) came back with Redis; no read may see it.
            let after = try await harness.result("state.get", ["household_id": id])
            #expect(after["state"] == ["n": 4, "m": true])
            try await withPersister(harness) {
                for _ in 0..<200 where harness.state.isBypassingCache {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(!harness.state.isBypassingCache, "the cache is used again once Redis answers")
                try await harness.waitForEmptyJournal()
            }
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(read["state"] == ["n": 4, "m": true], "the journal's older entries were not applied over it")
            let next = try await harness.result(
                "state.update", ["household_id": id, "mode": "merge", "state": ["k": 1]])
            #expect((next["version"]?.intValue ?? 0) > (read["version"]?.intValue ?? 0))
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(household)?.state == ["n": 4, "m": true, "k": 1])
        }
    }

    /// A merge made around the cache starts from PostgreSQL, which lacks the updates still in the journal; when
    /// Redis is back they are combined, so no acknowledged update is lost to the merge's higher version.
    @Test func mergesDuringARedisOutageAreCombinedWithTheJournalsUnpersistedUpdates() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let replaced = try await harness.createHousehold("The Joneses")
            let id = JSONValue.string(household)
            // A later merge that sets a value back, and one that removes a member only the journal had: applied
            // again on top of the journal, not merged with it as states (which would undo both).
            let reverted = try await harness.createHousehold("The Browns")
            let removed = try await harness.createHousehold("The Greens")
            _ = try await harness.result("state.update", ["household_id": id, "state": ["flow": "recipe", "n": 1]])
            _ = try await harness.result("state.update", ["household_id": .string(reverted), "state": ["step": "a"]])
            _ = try await harness.result("state.update", ["household_id": .string(removed), "state": ["keep": 1]])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            // Acknowledged through the cache, not yet persisted.
            _ = try await harness.result(
                "state.update", ["household_id": id, "mode": "merge", "state": ["step": "confirming", "n": 2]])
            _ = try await harness.result(
                "state.update", ["household_id": .string(replaced), "state": ["old": true]])
            _ = try await harness.result(
                "state.update", ["household_id": .string(reverted), "mode": "merge", "state": ["step": "b"]])
            _ = try await harness.result(
                "state.update", ["household_id": .string(removed), "mode": "merge", "state": ["x": 1]])
            try StorageTestSupport.runServices("redis stop")
            do {
                // PostgreSQL's copy lacks "step": the merge's base does too.
                let during = try await harness.result(
                    "state.update", ["household_id": id, "mode": "merge", "state": ["photo": "p1", "n": 3]])
                #expect(
                    try await harness.result("state.get", ["household_id": id])["state"]
                        == ["flow": "recipe", "n": 3, "photo": "p1"])
                #expect((during["version"]?.intValue ?? 0) > 2)
                // A replace decides the whole state: nothing of the journal comes back into it.
                _ = try await harness.result(
                    "state.update", ["household_id": .string(replaced), "mode": "merge", "state": ["a": 1]])
                _ = try await harness.result(
                    "state.update", ["household_id": .string(replaced), "state": ["new": true]])
                _ = try await harness.result(
                    "state.update", ["household_id": .string(reverted), "mode": "merge", "state": ["step": "a"]])
                _ = try await harness.result(
                    "state.update", ["household_id": .string(removed), "mode": "merge", "state": ["x": .null]])
            } catch {
                try StorageTestSupport.runServices("redis start")
                throw error
            }
            try StorageTestSupport.runServices("redis start")
            try await withPersister(harness) {
                for _ in 0..<200 where harness.state.isBypassingCache {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(!harness.state.isBypassingCache)
                try await harness.waitForEmptyJournal()
            }
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(
                read["state"] == ["flow": "recipe", "step": "confirming", "n": 3, "photo": "p1"],
                "the journal's acknowledged merge and the merge made around it are both kept")
            #expect(try await harness.storedState(household)?.state == read["state"])
            #expect(
                try await harness.result("state.get", ["household_id": .string(replaced)])["state"]
                    == ["new": true])
            #expect(
                try await harness.result("state.get", ["household_id": .string(reverted)])["state"] == ["step": "a"])
            #expect(try await harness.result("state.get", ["household_id": .string(removed)])["state"] == ["keep": 1])
            let next = try await harness.result(
                "state.update", ["household_id": id, "mode": "merge", "state": ["k": 1]])
            #expect((next["version"]?.intValue ?? 0) > (read["version"]?.intValue ?? 0))
        }
    }

    /// A durable update that Redis applied but PostgreSQL could not store is not reported as a plain failure: the
    /// client hears that it was applied, at which version, and the journal stores it later.
    @Test func aDurableUpdatePostgreSQLCannotStoreIsReportedAsApplied() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let id = JSONValue.string(household)
            _ = try await harness.result("state.update", ["household_id": id, "state": ["n": 1]])
            // A newly opened Redis connection makes the store check PostgreSQL for stale copies first, which
            // would fail before the write.
            try await harness.openEveryRedisConnection(household: id)
            let before = try #require(try await harness.result("state.get", ["household_id": id])["version"]?.intValue)
            try StorageTestSupport.runServices("postgres stop")
            let error: JSONValue
            do {
                error = try await harness.error(
                    "state.update", ["household_id": id, "state": ["n": 2], "durable": true])
            } catch {
                try StorageTestSupport.runServices("postgres start")
                throw error
            }
            try StorageTestSupport.runServices("postgres start")
            #expect(error["code"] == -32004, "\(error)")
            #expect(error["data"]?["type"] == "unavailable")
            let applied = try #require(error["data"]?["applied_version"]?.intValue, "\(error)")
            #expect(applied == before + 1)
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(read["version"]?.intValue == applied)
            #expect(read["state"] == ["n": 2], "a replace")
            #expect(try await harness.storedState(household)?.version ?? 0 < applied, "not stored before the answer")
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(household)?.version == applied)
        }
    }
}
