import Foundation
import JSONRPC
import Logging
import Postgres
import Redis
import Testing

@testable import JulesCore

/// How the persister reads, stores and removes a batch: several Redis commands of ``StatePersister/chunkSize``
/// entries for one round, one row per household, and a journal left holding exactly what is not yet acknowledged.
@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL (scripts/test sets it)"))
struct StatePersisterBatchTests {
    static let group: RedisArgument = "jules-state-persisters"

    func persister(_ harness: MembersHarness, consumer: String = "me", batchSize: Int) -> StatePersister {
        StatePersister(
            store: harness.state, consumer: consumer, batchSize: batchSize, interval: .zero,
            reclaimIdle: .seconds(60), logger: StorageTestSupport.logger)
    }

    /// One round of the persister, with the once-a-second gauges and stale-copy check kept out of it.
    func round(_ persister: StatePersister, _ loop: inout StatePersister.LoopState) async -> Int {
        loop.lastGauges = .now
        return await persister.iterate(&loop, block: false)
    }

    func journalLength(_ harness: MembersHarness) async throws -> Int {
        try await harness.state.journalStatistics().length
    }

    func pendingCount(_ harness: MembersHarness) async throws -> Int? {
        try await harness.redis.command(["XPENDING", RedisArgument(harness.state.journalKey), Self.group])
            .arrayValue?.first?.intValue
    }

    /// 130 households updated 5 times each: 650 entries, more than three commands' worth.
    func writeUpdates(_ harness: MembersHarness) async throws -> [String] {
        var households: [String] = []
        for index in 0..<130 { households.append(try await harness.createHousehold("H\(index)")) }
        for round in 1...5 {
            for household in households {
                _ = try await harness.result(
                    "state.update", ["household_id": .string(household), "state": ["round": .init(round)]])
            }
        }
        return households
    }

    @Test func aRoundReadsItsBatchInSeveralCommandsAndStoresEveryHousehold() async throws {
        try await MembersHarness.run { harness in
            let households = try await writeUpdates(harness)
            let whole = persister(harness, batchSize: 1000)
            #expect(whole.chunkSize == 200)
            var loop = StatePersister.LoopState()
            #expect(await round(whole, &loop) == 650, "one round takes every entry, 200 a command")
            #expect(loop.drained, "the last command came back short: the journal is empty")
            for household in households {
                let stored = try await harness.storedState(household)
                #expect(
                    stored?.version == 5 && stored?.state == ["round": 5], "\(household): \(String(describing: stored))"
                )
            }
            #expect(try await journalLength(harness) == 0)
            #expect(try await pendingCount(harness) == 0)
        }
    }

    @Test func aRoundStopsAtTheBatchSizeAndSaysTheJournalIsNotEmpty() async throws {
        try await MembersHarness.run { harness in
            _ = try await writeUpdates(harness)
            let small = persister(harness, batchSize: 500)
            var loop = StatePersister.LoopState()
            #expect(await round(small, &loop) == 500)
            #expect(!loop.drained, "it stopped at the batch size with entries left: no pause before the next round")
            #expect(try await journalLength(harness) == 150)
            #expect(await round(small, &loop) == 150)
            #expect(loop.drained)
            #expect(try await journalLength(harness) == 0)
        }
    }

    /// Entries this consumer read before a crash (never acknowledged) are read again first, past one command.
    @Test func entriesThisConsumerReadBeforeARestartAreReadAgainInSeveralCommands() async throws {
        try await MembersHarness.run { harness in
            let households = try await writeUpdates(harness)
            let journal = RedisArgument(harness.state.journalKey)
            _ = try await harness.redis.command(["XGROUP", "CREATE", journal, Self.group, "0", "MKSTREAM"])
            _ = try await harness.redis.command([
                "XREADGROUP", "GROUP", Self.group, "me", "COUNT", "450", "STREAMS", journal, ">",
            ])
            #expect(try await pendingCount(harness) == 450)
            let again = persister(harness, batchSize: 1000)
            var loop = StatePersister.LoopState()
            #expect(await round(again, &loop) == 450, "its own pending entries, in three commands")
            #expect(await round(again, &loop) == 200, "then the new ones")
            #expect(try await pendingCount(harness) == 0)
            #expect(try await journalLength(harness) == 0)
            for household in households { #expect(try await harness.storedState(household)?.version == 5) }
        }
    }

    /// An entry another consumer holds (it read it and stopped) keeps only itself in the journal: the entries above
    /// it that this consumer stored are deleted one by one, the ones below it by trimming.
    @Test func theJournalKeepsOnlyWhatIsNotAcknowledged() async throws {
        try await MembersHarness.run { harness in
            let journal = RedisArgument(harness.state.journalKey)
            let households = try await writeUpdates(harness)
            _ = try await harness.redis.command(["XGROUP", "CREATE", journal, Self.group, "0", "MKSTREAM"])
            let me = persister(harness, batchSize: 1000)
            var loop = StatePersister.LoopState()
            // This consumer takes the first 100 entries, another one the next, and this one all the rest.
            _ = try await harness.redis.command([
                "XREADGROUP", "GROUP", Self.group, "me", "COUNT", "100", "STREAMS", journal, ">",
            ])
            let held = try await harness.redis.command([
                "XREADGROUP", "GROUP", Self.group, "stopped", "COUNT", "1", "STREAMS", journal, ">",
            ])
            let heldID = try #require(
                held.arrayValue?.first?.arrayValue?.last?.arrayValue?.first?.arrayValue?.first?.bytes)
            #expect(await round(me, &loop) == 100)
            #expect(await round(me, &loop) == 549)
            #expect(try await journalLength(harness) == 1, "only the entry the stopped consumer holds")
            let left = try await harness.redis.command(["XRANGE", journal, "-", "+"])
            #expect(left.arrayValue?.first?.arrayValue?.first?.bytes == heldID)
            #expect(try await pendingCount(harness) == 1)
            // Once it is acknowledged, the next batch's acknowledgement trims it away with the rest.
            _ = try await harness.redis.command(["XACK", journal, Self.group, RedisArgument(heldID)])
            _ = try await harness.result("state.update", ["household_id": .string(households[0]), "state": [:]])
            #expect(await round(me, &loop) == 1)
            #expect(try await journalLength(harness) == 0)
        }
    }

    /// IDs whose parts Lua cannot hold exactly (2^53 or more; made by hand) are deleted one by one, never trimmed
    /// past, so the journal still ends up empty.
    @Test func entriesWithHugeIDsAreStillRemoved() async throws {
        try await MembersHarness.run { harness in
            let journal = RedisArgument(harness.state.journalKey)
            let household = try await harness.createHousehold()
            _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 1]])
            for (id, version) in [("9007199254740993-0", "2"), ("9007199254740993-18446744073709551614", "3")] {
                _ = try await harness.redis.command([
                    "XADD", journal, RedisArgument(id), "h", RedisArgument(household), "v", RedisArgument(version),
                    "s", #"{"n":2}"#,
                ])
            }
            let me = persister(harness, batchSize: 1000)
            var loop = StatePersister.LoopState()
            #expect(await round(me, &loop) == 3)
            #expect(try await harness.storedState(household)?.version == 3)
            #expect(try await journalLength(harness) == 0)
            #expect(try await pendingCount(harness) == 0)
        }
    }

    /// A household's entries in one batch become one row, its newest readable one; a newer entry that is not JSON,
    /// or one PostgreSQL refuses (both made by hand), is dropped without hiding the one before it.
    @Test func aHouseholdsEntriesInOneBatchAreStoredAsItsNewestReadableState() async throws {
        try await MembersHarness.run { harness in
            let unreadable = try await harness.createHousehold("The Blacks")
            let refused = try await harness.createHousehold("The Whites")
            for index in 1...10 {
                for household in [unreadable, refused] {
                    _ = try await harness.result(
                        "state.update", ["household_id": .string(household), "state": ["n": .init(index)]])
                }
            }
            for (household, text) in [(unreadable, "not json"), (refused, "[1]")] {
                _ = try await harness.redis.command([
                    "XADD", RedisArgument(harness.state.journalKey), "*", "h", RedisArgument(household), "v", "11",
                    "s", RedisArgument(text),
                ])
            }
            let me = persister(harness, batchSize: 1000)
            var loop = StatePersister.LoopState()
            #expect(await round(me, &loop) == 22)
            for household in [unreadable, refused] {
                let stored = try await harness.storedState(household)
                #expect(stored?.version == 10)
                #expect(stored?.state == ["n": 10])
            }
            #expect(try await journalLength(harness) == 0)
        }
    }

    /// Journal entries as the write script makes them (one field, `e`) and as older builds did (`h`, `v`, `s`).
    @Test func entriesAreReadInBothForms() throws {
        let household = UUID()
        let text = household.lowercasedText
        func entry(_ fields: [String]) -> RedisReply {
            .array([.string(Array("1-0".utf8)), .array(fields.map { .string(Array($0.utf8)) })])
        }
        func fields(_ reply: RedisReply) throws -> StatePersister.JournalEntry.Fields? {
            try #require(StatePersister.parse(reply)).fields
        }
        let written = try #require(try fields(entry(["e", "\(text) 7 {\"n\": \"a b\"}"])))
        #expect(written.household == household && written.version == 7)
        #expect(written.stored == Array(#"{"n": "a b"}"#.utf8), "the state runs to the end, spaces and all")
        let deleted = try #require(try fields(entry(["e", "\(text) 8 "])))
        #expect(deleted.version == 8 && deleted.stored.isEmpty)
        let older = try #require(try fields(entry(["h", text, "v", "3", "s", "{}"])))
        #expect(older.household == household && older.version == 3 && older.stored == Array("{}".utf8))
        for malformed in [
            "", "no-spaces", "\(text)", "\(text) 5", "not-a-uuid 5 {}", "\(text) five {}", "\(text)  {}",
            "\(text) 99999999999999999999 {}",
        ] {
            #expect(try fields(entry(["e", malformed])) == nil, "\(malformed)")
        }
        #expect(try fields(entry(["h", text, "v", "3"])) == nil, "no state")
        #expect(StatePersister.parse(.array([.string(Array("2-0".utf8)), .null]))?.fields == nil, "deleted")
    }

    @Test func onlyTheNewestReadableEntryOfEachHouseholdIsKept() throws {
        let a = UUID()
        let b = UUID()
        func entry(_ household: UUID?, _ version: Int64, _ stored: String) -> StatePersister.JournalEntry {
            StatePersister.JournalEntry(
                id: Array("\(version)-0".utf8),
                fields: household.map { .init(household: $0, version: version, stored: Array(stored.utf8)) })
        }
        let newest = StatePersister.newestPerHousehold([
            entry(a, 1, #"{"n":1}"#), entry(b, 1, #"{"b":1}"#), entry(a, 2, #"{"n":2}"#), entry(nil, 3, ""),
            entry(a, 3, "{broken"), entry(b, 2, "[1]"),
        ])
        let byHousehold = Dictionary(uniqueKeysWithValues: newest.map { ($0.household, $0) })
        #expect(byHousehold.count == 2)
        #expect(byHousehold[a]?.version == 2)
        #expect(byHousehold[a]?.state == ["n": 2])
        #expect(byHousehold[b]?.version == 2, "JSON that is not an object is left for PostgreSQL to refuse")
    }

    /// After emptying the journal the persister waits its interval (the whole of it here, after a round of one
    /// entry), and what was written meanwhile is stored together once it is over.
    @Test func updatesDuringTheIntervalWaitForItsEnd() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let service = StatePersister(
                store: harness.state, consumer: "interval", interval: .seconds(3), entriesForWholeInterval: 1,
                logger: StorageTestSupport.logger)
            try await withServices([service]) {
                _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 1]])
                try await waitForStoredVersion(harness, household, 1)
                let stored = ContinuousClock.now
                // The persister stored version 1 and emptied the journal: it now waits three seconds.
                for index in 2...6 {
                    _ = try await harness.result(
                        "state.update", ["household_id": .string(household), "state": ["n": .init(index)]])
                }
                try await Task.sleep(for: .milliseconds(300))
                let version = try await harness.storedState(household)?.version
                // Only while the interval surely lasts (a starved test run can take longer to get here).
                if ContinuousClock.now - stored < .milliseconds(2500) {
                    #expect(version == 1, "still within the interval")
                }
                try await waitForStoredVersion(harness, household, 6)
                try await harness.waitForEmptyJournal()
                #expect(try await journalLength(harness) == 0)
            }
        }
    }

    /// Under a light load the wait is the round's share of the interval: a minute after a round of a thousand
    /// entries is 60 ms after a round of one.
    @Test func aSmallRoundIsFollowedByItsShareOfTheInterval() async throws {
        try await MembersHarness.run { harness in
            let household = try await harness.createHousehold()
            let service = StatePersister(
                store: harness.state, consumer: "share", interval: .seconds(60), logger: StorageTestSupport.logger)
            #expect(service.wait(afterStoring: 1) == .milliseconds(60))
            #expect(service.wait(afterStoring: 500) == .seconds(30))
            #expect(service.wait(afterStoring: 1000) == .seconds(60))
            #expect(service.wait(afterStoring: 4000) == .seconds(60))
            try await withServices([service]) {
                _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 1]])
                try await waitForStoredVersion(harness, household, 1)
                _ = try await harness.result("state.update", ["household_id": .string(household), "state": ["n": 2]])
                // Within 20 s, where the whole interval would be 60.
                try await waitForStoredVersion(harness, household, 2)
            }
        }
    }

    func waitForStoredVersion(
        _ harness: MembersHarness, _ household: String, _ version: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        for _ in 0..<2000 {
            if try await harness.storedState(household)?.version == version { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("version \(version) was never stored", sourceLocation: sourceLocation)
    }
}
