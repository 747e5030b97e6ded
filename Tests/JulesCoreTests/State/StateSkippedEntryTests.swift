import Foundation
import JSONRPC
import Logging
import Postgres
import Redis
import Testing

@testable import JulesCore

/// PostgreSQL holds a newer version of a household than its cached copy (written around the cache during an
/// outage, and not yet combined with the copy by the stale-copy check): an update in that copy is skipped by the
/// forward-only upsert, and nothing may treat it as stored.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StateSkippedEntryTests {
    /// The persister drains the journal before the stale-copy check has run (or while it keeps failing): the copy
    /// holding the skipped update must not be given a TTL, or it could expire before the check combines it with
    /// PostgreSQL's version. An entry PostgreSQL stored still lets its copy expire.
    @Test func aCopyWhoseEntryWasSkippedGetsNoTTL() async throws {
        try await withOutage { harness, setup in
            let normal = try #require(UUID(uuidString: try await harness.createHousehold("The Browns")))
            let normalVersion = try await setup.store.update(normal, .replace(["n": 1]))
            // A household removed for good before its entry is persisted: nothing will ever store it.
            let gone = try #require(UUID(uuidString: try await harness.createHousehold("The Greys")))
            _ = try await setup.store.update(gone, .replace(["g": 1]))
            _ = try await harness.database.query(
                "DELETE FROM conversation_states WHERE household_id = $1", [.uuid(gone)])
            _ = try await harness.database.query("DELETE FROM households WHERE id = $1", [.uuid(gone)])
            let persister = StatePersister(
                store: setup.store, consumer: "test-\(UUID().uuidString.prefix(8))", batchSize: 50,
                logger: StorageTestSupport.logger)
            var loop = StatePersister.LoopState()
            for _ in 0..<20 {
                // The persister runs the stale-copy check once a second; kept out here.
                loop.lastGauges = .now
                if await persister.iterate(&loop, block: false) == 0, !loop.ownPending { break }
            }
            #expect(try await setup.store.journalStatistics().length == 0, "the journal is drained")

            let ttl = try await harness.redis.command([
                "TTL", RedisArgument(setup.store.cacheKey(for: setup.household)),
            ])
            #expect(ttl.intValue == -1, "the copy holds an update PostgreSQL lacks: it never expires")
            let cached = try #require(try await setup.store.cache.read(setup.household))
            #expect(cached.version == setup.cachedVersion)
            #expect(
                try ConversationState(storedText: cached.stored, version: cached.version).state
                    == ["flow": "recipe", "step": "confirming"])
            let skipped = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(Int64(skipped.version) == setup.outageVersion)
            #expect(skipped.state == ["flow": "recipe", "photo": "p1"], "the journal's update was skipped")

            #expect(try await harness.storedState(normal.lowercasedText)?.version == Int(normalVersion))
            let normalTTL = try await harness.redis.command(["TTL", RedisArgument(setup.store.cacheKey(for: normal))])
            #expect((normalTTL.intValue ?? -1) > 0, "a stored entry's copy may expire")
            let goneTTL = try await harness.redis.command(["TTL", RedisArgument(setup.store.cacheKey(for: gone))])
            #expect((goneTTL.intValue ?? -1) > 0, "the copy of a household that no longer exists may expire")

            // The check, when it runs, still finds the copy and stores both.
            try await setup.store.dropCopiesMadeStaleElsewhere()
            let expected: JSONValue = ["flow": "recipe", "step": "confirming", "photo": "p1"]
            #expect(try await harness.storedState(setup.household.lowercasedText)?.state == expected)
            let (read, _) = try await setup.store.get(setup.household)
            #expect(read.state == expected)
        }
    }

    /// A durable update PostgreSQL skips (it holds a newer version) is not reported as durable: the answer says it
    /// was applied, at which version, and the stale-copy check stores it on top of PostgreSQL's version.
    @Test func aDurableUpdatePostgreSQLSkipsIsReportedAsAppliedNotDurable() async throws {
        try await withOutage { harness, setup in
            let id = JSONValue.string(setup.household.lowercasedText)
            let error = try await harness.error(
                "state.update", ["household_id": id, "mode": "merge", "state": ["late": true], "durable": true])
            #expect(error["code"] == -32004, "\(error)")
            #expect(error["data"]?["type"] == "unavailable")
            #expect(error["data"]?["applied_version"]?.intValue == Int(setup.cachedVersion + 1), "\(error)")
            let skipped = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(Int64(skipped.version) == setup.outageVersion, "PostgreSQL still holds the outage's version")

            try await setup.store.dropCopiesMadeStaleElsewhere()
            let expected: JSONValue = ["flow": "recipe", "step": "confirming", "late": true, "photo": "p1"]
            #expect(try await harness.storedState(setup.household.lowercasedText)?.state == expected)

            // Once the check has combined them, a durable update is stored before the answer again.
            let next = try await setup.store.update(setup.household, .merge(["n": 1]), durable: true)
            #expect(try await harness.storedState(setup.household.lowercasedText)?.version == Int(next))
        }
    }
}
