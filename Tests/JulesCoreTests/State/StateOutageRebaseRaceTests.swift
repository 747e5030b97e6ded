import Foundation
import JSONRPC
import Logging
import Postgres
import Redis
import Synchronization
import Testing

@testable import JulesCore

/// The stale-copy check combines merges made around the cache with the cached copy while requests go on using the
/// cache: a write acknowledged between the check's read of the cached copy and its install of the result must
/// survive, however the two interleave.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StateOutageRebaseRaceTests {
    /// Another instance that uses the cache acknowledges a write after the check read the cached copy and stored
    /// its rebase in PostgreSQL: the check must not drop that write; it rebases again on top of it.
    @Test func aWriteAcknowledgedDuringTheRebaseIsKept() async throws {
        try await withOutage { harness, setup in
            let writes = Atomic<Int>(0)
            let late = Mutex<Int64>(0)
            setup.store.beforeRebaseInstall.withLock {
                $0 = { _ in
                    guard writes.add(1, ordering: .relaxed).newValue == 1 else { return }
                    let version = try await setup.neighbour.update(
                        setup.household, .merge(["step": "done", "late": true]))
                    late.withLock { $0 = version }
                }
            }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            #expect(writes.load(ordering: .relaxed) == 2, "the first install found the newer copy and rebased again")
            #expect(setup.neighbour.staleCopyChecks.load(ordering: .relaxed) == setup.neighbourChecks)
            let acknowledged = late.withLock { $0 }
            #expect(acknowledged == setup.cachedVersion + 1)

            let expected: JSONValue = ["flow": "recipe", "step": "done", "late": true, "photo": "p1"]
            let (read, source) = try await setup.store.get(setup.household)
            #expect(source == .cache)
            #expect(read.state == expected, "both the outage's merge and the acknowledged write")
            #expect(read.version > setup.outageVersion && read.version > acknowledged)
            #expect(try await setup.store.rows.hasPendingInvalidations() == false)
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let stored = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(stored.state == expected)
            #expect(Int64(stored.version) == read.version)
            let next = try await setup.store.update(setup.household, .merge(["k": 1]))
            #expect(next == read.version + 1)
        }
    }

    /// Past too many merges to keep, the rebase merges three ways, and a newer cached copy is handled the same way:
    /// the acknowledged write changed a member the journal's copy had changed too, and its value is kept.
    @Test func aWriteAcknowledgedDuringAThreeWayRebaseIsKept() async throws {
        try await withOutage { harness, setup in
            // As a write around the cache records it past the number of patches kept.
            _ = try await harness.database.query(
                "UPDATE state_cache_invalidations SET patches = NULL WHERE household_id = $1", [.uuid(setup.household)])
            let writes = Atomic<Int>(0)
            setup.store.beforeRebaseInstall.withLock {
                $0 = { _ in
                    guard writes.add(1, ordering: .relaxed).newValue == 1 else { return }
                    _ = try await setup.neighbour.update(setup.household, .merge(["step": "done", "late": true]))
                }
            }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            #expect(writes.load(ordering: .relaxed) == 2)
            let expected: JSONValue = ["flow": "recipe", "step": "done", "late": true, "photo": "p1"]
            let (read, source) = try await setup.store.get(setup.household)
            #expect(source == .cache)
            #expect(read.state == expected)
            #expect(read.version > setup.outageVersion)
            #expect(try await setup.store.rows.hasPendingInvalidations() == false)
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(setup.household.lowercasedText)?.state == expected)
        }
    }

    /// No copy was cached when the check looked (it had expired), and one was cached and written on meanwhile:
    /// the check's result is not installed over it, and the copy, written on top of PostgreSQL's state, stays.
    @Test func aCopyCachedAndWrittenDuringTheRebaseIsKept() async throws {
        try await withOutage(cachedCopyExpired: true) { harness, setup in
            let writes = Atomic<Int>(0)
            let late = Mutex<Int64>(0)
            setup.store.beforeRebaseInstall.withLock {
                $0 = { _ in
                    writes.add(1, ordering: .relaxed)
                    let version = try await setup.neighbour.update(setup.household, .merge(["late": true]))
                    late.withLock { $0 = version }
                }
            }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            #expect(writes.load(ordering: .relaxed) == 1, "the second look found a copy at PostgreSQL's version")
            let acknowledged = late.withLock { $0 }
            #expect(acknowledged == setup.outageVersion + 1, "filled from PostgreSQL, then written on")
            let expected: JSONValue = ["flow": "recipe", "step": "confirming", "late": true, "photo": "p1"]
            let (read, source) = try await setup.store.get(setup.household)
            #expect(source == .cache)
            #expect(read.state == expected)
            #expect(read.version == acknowledged)
            #expect(try await setup.store.rows.hasPendingInvalidations() == false)
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let stored = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(stored.state == expected)
            #expect(Int64(stored.version) == acknowledged)
        }
    }

    /// A household written through the cache before every install: the check gives up after a bounded number of
    /// rebases, leaves the invalidation and its merge for the next check, and leaves the cached copy as written.
    @Test func aHouseholdThatKeepsMovingIsLeftForTheNextCheck() async throws {
        try await withOutage { harness, setup in
            let writes = Atomic<Int>(0)
            let last = Mutex<Int64>(0)
            setup.store.beforeRebaseInstall.withLock {
                $0 = { _ in
                    let count = writes.add(1, ordering: .relaxed).newValue
                    let version = try await setup.neighbour.update(setup.household, .merge(["n": .init(count)]))
                    last.withLock { $0 = version }
                }
            }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            let attempts = StateStore.maximumRebaseAttempts
            #expect(writes.load(ordering: .relaxed) == attempts)
            let lastVersion = last.withLock { $0 }
            #expect(lastVersion == setup.cachedVersion + Int64(attempts))
            let pending = try await invalidation(harness, setup.household)
            #expect(pending?.needsRebase == true)
            #expect(pending?.patches == 1, "the outage's merge is kept")
            let cached = try #require(try await setup.store.cache.read(setup.household))
            #expect(cached.version == lastVersion, "the cached copy is neither dropped nor replaced")
            #expect(
                try ConversationState(storedText: cached.stored, version: cached.version).state
                    == ["flow": "recipe", "step": "confirming", "n": .init(attempts)])
            let ttl = try await harness.redis.command([
                "TTL", RedisArgument(setup.store.cacheKey(for: setup.household)),
            ])
            #expect(ttl.intValue == -1, "an entry not yet persisted never expires")
            let rebased = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(Int64(rebased.version) > setup.outageVersion)

            setup.store.beforeRebaseInstall.withLock { $0 = nil }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            let expected: JSONValue = ["flow": "recipe", "step": "confirming", "n": .init(attempts), "photo": "p1"]
            let (read, _) = try await setup.store.get(setup.household)
            #expect(read.state == expected)
            #expect(read.version > Int64(rebased.version))
            #expect(try await setup.store.rows.hasPendingInvalidations() == false)
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let stored = try #require(try await harness.storedState(setup.household.lowercasedText))
            #expect(stored.state == expected)
            #expect(Int64(stored.version) == read.version)
        }
    }

    /// The instance cut off from Redis merges again after the check stored its rebase and before it installed it:
    /// the invalidation stays for that merge alone, on top of the state installed, so that the next check applies
    /// it once and does not apply the earlier merge again over a write made since.
    @Test func aMergeAroundTheCacheDuringTheRebaseIsLeftForTheNextCheck() async throws {
        try await withOutage { harness, setup in
            let writes = Atomic<Int>(0)
            setup.store.beforeRebaseInstall.withLock {
                $0 = { _ in
                    guard writes.add(1, ordering: .relaxed).newValue == 1 else { return }
                    _ = try await setup.cutOff.update(setup.household, .merge(["x": 1]))
                }
            }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            #expect(writes.load(ordering: .relaxed) == 1)
            let (installed, source) = try await setup.store.get(setup.household)
            #expect(source == .cache)
            #expect(installed.state == ["flow": "recipe", "step": "confirming", "photo": "p1"])
            let pending = try await invalidation(harness, setup.household)
            #expect(pending?.needsRebase == true)
            #expect(pending?.patches == 1, "only the merge made since")
            #expect(pending?.baseVersion == installed.version)

            // Acknowledged on the installed copy before the next check, over a member the outage had set.
            let written = try await setup.neighbour.update(setup.household, .merge(["photo": "p2"]))
            setup.store.beforeRebaseInstall.withLock { $0 = nil }
            try await setup.store.dropCopiesMadeStaleElsewhere()
            let expected: JSONValue = ["flow": "recipe", "step": "confirming", "photo": "p2", "x": 1]
            let (read, _) = try await setup.store.get(setup.household)
            #expect(read.state == expected)
            #expect(read.version > written)
            #expect(try await setup.store.rows.hasPendingInvalidations() == false)
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(setup.household.lowercasedText)?.state == expected)
        }
    }
}

/// The household's invalidation row: whether it needs a rebase, its base version and how many patches it keeps.
func invalidation(
    _ harness: MembersHarness,
    _ household: UUID
) async throws -> (needsRebase: Bool, baseVersion: Int64?, patches: Int?)? {
    let rows = try await harness.database.query(
        """
        SELECT needs_rebase, base_version, jsonb_array_length(patches) AS patches
        FROM state_cache_invalidations WHERE household_id = $1
        """,
        [.uuid(household)])
    guard let row = rows.first else { return nil }
    return (try row.decode("needs_rebase"), try row.decode("base_version"), try row.decode("patches", as: Int?.self))
}

/// What ``withOutage(_:)`` prepared.
struct OutageSetup {
    /// The harness's store: the instance whose check runs.
    let store: StateStore
    /// Another instance using the same Redis and PostgreSQL, with its own Redis client, its check done.
    let neighbour: StateStore
    let neighbourChecks: Int
    /// An instance that cannot reach Redis: its writes go around the cache.
    let cutOff: StateStore
    let household: UUID
    /// The cached copy's version when the outage began (acknowledged, not persisted).
    let cachedVersion: Int64
    /// The version PostgreSQL holds after the outage's merge.
    let outageVersion: Int64
}

/// A household whose cached copy holds an acknowledged update PostgreSQL lacks (`step: confirming`), then a merge
/// (`photo: p1`) made around the cache by an instance that cannot reach Redis: the stale-copy check has a rebase to
/// do, and no check has run since.
///
/// - Parameter cachedCopyExpired: Persist the acknowledged update and drop the cached copy before the outage, as
///   its expiry would.
func withOutage(
    cachedCopyExpired: Bool = false,
    _ body: (MembersHarness, OutageSetup) async throws -> Void
) async throws {
    try await MembersHarness.run { harness in
        let neighbourRedis = try StorageTestSupport.makeRedis()
        let unreachable = RedisClient(
            configuration: try RedisConfiguration(url: "unix:///tmp/jules-no-such-dir/redis.sock"),
            logger: StorageTestSupport.logger)
        do {
            let household = try #require(UUID(uuidString: try await harness.createHousehold()))
            let scratch = try #require(UUID(uuidString: try await harness.createHousehold("The Joneses")))
            let store = harness.state
            let neighbour = StateStore(
                database: harness.database, redis: neighbourRedis, keyPrefix: store.cache.keyPrefix,
                logger: StorageTestSupport.logger)
            let cutOff = StateStore(
                database: harness.database, redis: unreachable, logger: StorageTestSupport.logger)

            _ = try await store.update(household, .replace(["flow": "recipe"]))
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let cachedVersion = try await store.update(household, .merge(["step": "confirming"]))
            // Both instances open their connections and load their scripts now, so that no check runs later
            // unless a test calls it.
            for _ in 0..<20 {
                let opened = (store.cache.redis.connectionsOpened, neighbourRedis.connectionsOpened)
                _ = try await store.get(household)
                _ = try await neighbour.get(household)
                _ = try await store.update(scratch, .merge(["warm": true]))
                _ = try await neighbour.update(scratch, .merge(["warm": true]))
                if opened == (store.cache.redis.connectionsOpened, neighbourRedis.connectionsOpened) { break }
            }
            if cachedCopyExpired {
                try await withPersister(harness) { try await harness.waitForEmptyJournal() }
                _ = try await harness.redis.command(["DEL", RedisArgument(store.cacheKey(for: household))])
            }
            let outageVersion = try await cutOff.update(household, .merge(["photo": "p1"]))
            #expect(cutOff.isBypassingCache)
            #expect(try await store.rows.hasPendingInvalidations())
            try await body(
                harness,
                OutageSetup(
                    store: store, neighbour: neighbour,
                    neighbourChecks: neighbour.staleCopyChecks.load(ordering: .relaxed), cutOff: cutOff,
                    household: household, cachedVersion: cachedVersion, outageVersion: outageVersion))
        } catch {
            await neighbourRedis.shutdown()
            await unreachable.shutdown()
            throw error
        }
        await neighbourRedis.shutdown()
        await unreachable.shutdown()
    }
}
