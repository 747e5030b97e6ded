import Foundation
import JSONRPC
import JulesCore
import Logging
import Postgres
import Redis
import ServiceLifecycle
import Testing

/// Runs the harness's persister as a service while `body` runs, then shuts it down gracefully (it drains).
func withPersister(
    _ harness: MembersHarness,
    consumer: String = "test-\(UUID().uuidString.prefix(8))",
    reclaimIdle: Duration = .seconds(30),
    forgetIdle: Duration = .seconds(3600),
    _ body: () async throws -> Void
) async throws {
    let persister = StatePersister(
        store: harness.state, consumer: consumer, batchSize: 50, reclaimIdle: reclaimIdle, forgetIdle: forgetIdle,
        logger: StorageTestSupport.logger)
    try await withServices([persister], body)
}

/// Runs `services` in a service group while `body` runs, then shuts them down gracefully and waits for them.
func withServices(_ services: [any Service], _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(configuration: .init(services: services, logger: StorageTestSupport.logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

extension MembersHarness {
    /// Makes state calls until a round of them opens no new Redis connection, so that the store has run the
    /// stale-copy check that new connections call for, and the calls that follow do not run it again.
    func openEveryRedisConnection(household id: JSONValue) async throws {
        var opened = -1
        for _ in 0..<20 where redis.connectionsOpened != opened {
            opened = redis.connectionsOpened
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { _ = try await self.result("state.get", ["household_id": id]) }
                    group.addTask {
                        _ = try await self.result(
                            "state.update", ["household_id": id, "mode": "merge", "state": ["warm": true]])
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// Polls `state.stats` until the journal is empty (or a generous deadline passes).
    func waitForEmptyJournal(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<600 {
            if try await result("state.stats")["journal_length"] == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the journal never emptied", sourceLocation: sourceLocation)
    }

    func storedState(_ household: String) async throws -> (state: JSONValue?, version: Int)? {
        let rows = try await database.query(
            "SELECT state::text AS state, version FROM conversation_states WHERE household_id = $1",
            [.text(household)])
        guard let row = rows.first else { return nil }
        let text: String? = try row.decode("state")
        return (try text.map { try JSONParser.parse($0) }, try row.decode("version"))
    }
}

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StatePersisterTests {
    @Test func everyUpdateReachesPostgreSQLAndPersistedEntriesExpire() async throws {
        try await MembersHarness.run { harness in
            var households: [String] = []
            for index in 0..<60 { households.append(try await harness.createHousehold("H\(index)")) }
            for round in 1...3 {
                for household in households {
                    _ = try await harness.result(
                        "state.update",
                        ["household_id": .string(household), "mode": "merge", "state": [.init("r\(round)"): true]])
                }
            }
            #expect(try await harness.result("state.stats")["journal_length"] == 180)
            for household in households { #expect(try await harness.storedState(household) == nil) }
            try await withPersister(harness) {
                try await harness.waitForEmptyJournal()
            }
            for household in households {
                let stored = try await harness.storedState(household)
                #expect(stored?.version == 3)
                #expect(stored?.state == ["r1": true, "r2": true, "r3": true])
            }
            let ttl = try await harness.redis.command([
                "TTL", RedisArgument(harness.state.cacheKey(for: UUID(uuidString: households[0])!)),
            ])
            #expect((ttl.intValue ?? -1) > 0, "a persisted entry may expire")
            _ = try await harness.result("state.update", ["household_id": .string(households[0]), "state": [:]])
            let dirty = try await harness.redis.command([
                "TTL", RedisArgument(harness.state.cacheKey(for: UUID(uuidString: households[0])!)),
            ])
            #expect(dirty.intValue == -1, "an entry not yet persisted never expires")
        }
    }

    @Test func aLateOlderEntryNeverOverwritesANewerRow() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["old": true]])
            _ = try await harness.database.query(
                "INSERT INTO conversation_states (household_id, state, version) VALUES ($1, '{\"newer\": true}', 100)",
                [.text(household)])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            let stored = try await harness.storedState(household)
            #expect(stored?.version == 100)
            #expect(stored?.state == ["newer": true])
        }
    }

    @Test func entriesADeadInstanceReadAreClaimedAndStored() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            for index in 1...5 {
                _ = try await harness.result(
                    "state.update", ["household_id": .string(household), "state": ["n": .init(index)]])
            }
            let journal = RedisArgument(harness.state.journalKey)
            _ = try await harness.redis.command([
                "XGROUP", "CREATE", journal, "jules-state-persisters", "0", "MKSTREAM",
            ])
            let stolen = try await harness.redis.command([
                "XREADGROUP", "GROUP", "jules-state-persisters", "dead-instance", "COUNT", "100", "STREAMS", journal,
                ">",
            ])
            #expect(stolen.arrayValue?.first?.arrayValue?.last?.arrayValue?.count == 5, "the dead instance holds all 5")
            try await withPersister(harness, reclaimIdle: .milliseconds(200)) {
                try await harness.waitForEmptyJournal()
            }
            #expect(try await harness.storedState(household)?.version == 5)
            let pending = try await harness.redis.command(["XPENDING", journal, "jules-state-persisters"])
            #expect(pending.arrayValue?.first?.intValue == 0)
        }
    }

    @Test func consumersThatStoppedAreRemovedFromTheGroupOnceTheyHoldNothing() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let journal = RedisArgument(harness.state.journalKey)
            let group: RedisArgument = "jules-state-persisters"
            _ = try await harness.redis.command(["XGROUP", "CREATE", journal, group, "0", "MKSTREAM"])
            // A stopped instance that acknowledged what it read, one that holds an entry, and one that never read.
            _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 1]])
            let read = try await harness.redis.command([
                "XREADGROUP", "GROUP", group, "acknowledged", "COUNT", "1", "STREAMS", journal, ">",
            ])
            let id = try #require(read.arrayValue?.first?.arrayValue?.last?.arrayValue?.first?.arrayValue?.first)
            _ = try await harness.redis.command(["XACK", journal, group, RedisArgument(try #require(id.bytes))])
            _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 2]])
            _ = try await harness.redis.command([
                "XREADGROUP", "GROUP", group, "holding", "COUNT", "1", "STREAMS", journal, ">",
            ])
            _ = try await harness.redis.command(["XGROUP", "CREATECONSUMER", journal, group, "never-read"])
            try await Task.sleep(for: .milliseconds(300))
            func consumers() async throws -> Set<String> {
                let reply = try await harness.redis.command(["XINFO", "CONSUMERS", journal, group])
                return Set(
                    (reply.arrayValue ?? []).compactMap { consumer in
                        consumer.arrayValue.flatMap { fields in
                            zip(fields, fields.dropFirst()).first { $0.0.stringValue == "name" }?.1.stringValue
                        }
                    })
            }
            #expect(try await consumers() == ["acknowledged", "holding", "never-read"])
            // Entries are reclaimed only after a minute here, so the one holding an entry keeps it and stays.
            try await withPersister(
                harness, consumer: "live", reclaimIdle: .seconds(60), forgetIdle: .milliseconds(200)
            ) {
                for _ in 0..<100 where try await consumers() != ["holding", "live"] {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await consumers() == ["holding", "live"])
            }
        }
    }

    /// Entries written around state.update's checks (as an older build, or a hand, could have): a value jsonb
    /// refuses (a data exception), a state that is not an object and a negative version (check constraints).
    @Test(arguments: [
        (#"{"note":"\u0000"}"#, "1"), ("[1]", "1"), (#"{"n":1}"#, "-1"),
    ])
    func anEntryPostgreSQLRefusesIsDroppedAndTheRestAreStored(_ stored: String, _ version: String) async throws {
        try await MembersHarness.run { harness in
            let good = try await harness.createHousehold()
            let bad = try await harness.createHousehold()
            _ = try await harness.result("state.update", ["household_id": .string(good), "state": ["n": 1]])
            _ = try await harness.redis.command([
                "XADD", RedisArgument(harness.state.journalKey), "*", "h", RedisArgument(bad), "v",
                RedisArgument(version), "s", RedisArgument(stored),
            ])
            _ = try await harness.result("state.update", ["household_id": .string(good), "state": ["n": 2]])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(good)?.version == 2, "entries around the bad one are stored")
            #expect(try await harness.storedState(bad) == nil)
            let pending = try await harness.redis.command([
                "XPENDING", RedisArgument(harness.state.journalKey), "jules-state-persisters",
            ])
            #expect(pending.arrayValue?.first?.intValue == 0, "nothing is left pending")
        }
    }

    /// A cached copy whose version is stored may expire; one key in the batch that is not a hash (made by hand)
    /// neither stops the others' expiry nor holds up the journal. (Before, the script stopped at that key, and the
    /// copies it had not reached yet never expired: with 20 others, all but one order of the batch shows it.)
    @Test func storedCopiesExpireEvenBesideAKeyThatIsNotAHash() async throws {
        try await MembersHarness.run { harness in
            var keys: [RedisArgument] = []
            for index in 1...20 {
                let household = try await harness.createHousehold()
                _ = try await harness.result(
                    "state.update", ["household_id": .string(household), "state": ["n": .init(index)]])
                keys.append(RedisArgument(harness.state.cacheKey(for: try #require(UUID(uuidString: household)))))
            }
            #expect(try await harness.redis.command(["TTL", keys[0]]).intValue == -1, "no TTL before it is stored")
            let odd = try await harness.createHousehold()
            let oddKey = RedisArgument(harness.state.cacheKey(for: try #require(UUID(uuidString: odd))))
            _ = try await harness.redis.command(["SET", oddKey, "not a hash"])
            _ = try await harness.redis.command([
                "XADD", RedisArgument(harness.state.journalKey), "*", "h", RedisArgument(odd), "v", "1", "s",
                #"{"n":1}"#,
            ])
            try await withPersister(harness) { try await harness.waitForEmptyJournal() }
            #expect(try await harness.storedState(odd)?.version == 1)
            var withoutTTL = 0
            for key in keys where try await harness.redis.command(["TTL", key]).intValue ?? -1 <= 0 {
                withoutTTL += 1
            }
            #expect(withoutTTL == 0, "every stored copy expires")
            let pending = try await harness.redis.command([
                "XPENDING", RedisArgument(harness.state.journalKey), "jules-state-persisters",
            ])
            #expect(pending.arrayValue?.first?.intValue == 0, "nothing is left pending")
        }
    }

    @Test func shutdownDrainsTheJournal() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            for index in 1...30 {
                _ = try await harness.result(
                    "state.update", ["household_id": .string(household), "state": ["n": .init(index)]])
            }
            try await withPersister(harness) {}
            #expect(try await harness.storedState(household)?.version == 30)
            #expect(try await harness.result("state.stats")["journal_length"] == 0)
        }
    }
}
