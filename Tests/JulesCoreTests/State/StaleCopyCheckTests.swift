import Foundation
import JSONRPC
import Logging
import Redis
import Synchronization
import Testing

@testable import JulesCore

/// The check for cached copies made stale around Redis runs once for all the requests that need it at one time.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StaleCopyCheckTests {
    @Test func concurrentRequestsShareOneCheck() async throws {
        try await MembersHarness.run { harness in
            // A store whose Redis client has opened no connection yet: it must check before its first use of the
            // cache, and the calls below open none (no invalidations are pending), so one check covers them all.
            let redis = try StorageTestSupport.makeRedis()
            let store = StateStore(database: harness.database, redis: redis, logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 { group.addTask { try await store.dropStaleCopiesIfReconnected() } }
                try await group.waitForAll()
            }
            await redis.shutdown()
            #expect(store.staleCopyChecks.load(ordering: .relaxed) == 1)
            try await store.dropStaleCopiesIfReconnected()
            #expect(store.staleCopyChecks.load(ordering: .relaxed) == 1, "nothing opened since: no new check")
        }
    }

    /// Another instance that cannot reach Redis (while this one can) writes around the cache: this instance stops
    /// serving its older cached copy when it next looks, which its persister does every second.
    @Test func aWriteAroundTheCacheByAnotherInstanceIsSeenWithoutAReconnection() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let householdID = try #require(UUID(uuidString: household))
            let id = JSONValue.string(household)
            try await harness.openEveryRedisConnection(household: id)
            _ = try await harness.result("state.update", ["household_id": id, "state": ["by": "here"]])
            let unreachable = RedisClient(
                configuration: try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock"),
                logger: Logger(label: "test"))
            let other = StateStore(database: harness.database, redis: unreachable, logger: Logger(label: "test"))
            let first = try await other.update(householdID, .replace(["by": "there"]))
            #expect(other.isBypassingCache)
            #expect(try await harness.result("state.get", ["household_id": id])["state"] == ["by": "here"])

            try await harness.state.dropCopiesMadeStaleElsewhere()
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(read["state"] == ["by": "there"])
            #expect(read["version"]?.intValue == Int(first))

            // The persister looks by itself.
            let second = try await other.update(householdID, .merge(["again": true]))
            try await withPersister(harness) {
                for _ in 0..<100 {
                    let now = try await harness.result("state.get", ["household_id": id])
                    if now["version"]?.intValue == Int(second) { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let last = try await harness.result("state.get", ["household_id": id])
            #expect(last["state"] == ["by": "there", "again": true])
            #expect(last["version"]?.intValue == Int(second))
            await unreachable.shutdown()
        }
    }
    /// A read misses, loads the state from PostgreSQL, and fills the cache only after another instance wrote around
    /// the cache and the check dealt with that write (there was nothing cached to drop): the older state it loaded
    /// must not be cached, or reads would go on seeing it after a newer acknowledged update.
    @Test func aFillThatComesAfterTheCheckDoesNotCacheAnOlderState() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let householdID = try #require(UUID(uuidString: household))
            let id = JSONValue.string(household)
            _ = try await harness.result(
                "state.update", ["household_id": id, "state": ["by": "here"], "durable": true])
            _ = try await harness.redis.command(["DEL", RedisArgument(harness.state.cacheKey(for: householdID))])
            let loaded = try #require(try await harness.state.rows.load(householdID))

            let unreachable = RedisClient(
                configuration: try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock"),
                logger: Logger(label: "test"))
            let other = StateStore(database: harness.database, redis: unreachable, logger: Logger(label: "test"))
            let around = try await other.update(householdID, .replace(["by": "there"]))
            try await harness.state.dropStaleCopies()

            try await harness.state.cache.fill(householdID, loaded)
            let read = try await harness.result("state.get", ["household_id": id])
            #expect(read["state"] == ["by": "there"])
            #expect(read["version"]?.intValue == Int(around))
            // A fill of the current version still caches it.
            #expect(read["source"] == "database")
            #expect(try await harness.result("state.get", ["household_id": id])["source"] == "cache")
            await unreachable.shutdown()
        }
    }
}
