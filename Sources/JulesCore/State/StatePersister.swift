import Foundation
import JSONRPC
import Logging
import Metrics
import Postgres
import Redis
import ServiceLifecycle
import Synchronization

/// Drains the state journal into PostgreSQL: reads entries as one consumer of a consumer group, upserts each batch
/// (forward-only), and acknowledges and deletes the entries only after the commit. Entries another instance read
/// but never acknowledged (it died) are claimed after ``reclaimIdle``. On shutdown it drains what is left.
///
/// Once it has emptied the journal it waits before reading again, so that the updates of a busy household in that
/// time reach PostgreSQL as one row, and the per-statement work is shared by more entries: ``interval`` after a round
/// of ``entriesForWholeInterval`` entries or more, in proportion after a smaller one. So under a light load it stays
/// eager (a wait would only gather its work into bursts), and under a heavy one it stores an interval's worth at a
/// time. Redis runs one command at a time, so the persister talks to it in commands of at most ``chunkSize``
/// entries, and to PostgreSQL in statements of ``rowsPerStatement`` rows: a batch of thousands read, acknowledged or
/// stored in one go would hold up every `state.update` behind it.
///
/// It also watches for Redis to come back while the state store bypasses the cache.
public struct StatePersister: Service {
    let store: StateStore
    let consumer: String
    let batchSize: Int
    let interval: Duration
    let entriesForWholeInterval: Int
    let reclaimIdle: Duration
    let forgetIdle: Duration
    let logger: Logger

    private let batchSizes = Recorder(label: "jules_state_persist_batch_size")
    private let dropped = Counter(label: "jules_state_persist_dropped_total")
    private let persisted = Counter(label: "jules_state_persisted_total")
    private let journalLength = Gauge(label: "jules_state_journal_length")
    private let persistLag = Gauge(label: "jules_state_persist_lag_seconds")

    /// - Parameters:
    ///   - consumer: This instance's name in the consumer group; unique among the instances.
    ///   - batchSize: Most entries read and stored in one round; the entries of one household among them are stored
    ///     as one row, its newest.
    ///   - interval: The longest wait after emptying the journal before reading it again (zero: read at once).
    ///   - entriesForWholeInterval: A round that stored this many entries is followed by the whole interval; a
    ///     smaller one by its share.
    ///   - reclaimIdle: How long an entry read by another consumer may stay unacknowledged before this one takes it.
    ///   - forgetIdle: How long another consumer may go without reading before it is removed from the group, once
    ///     it holds no entries (each instance start adds a name; without this the group's list only grows).
    public init(
        store: StateStore, consumer: String, batchSize: Int = 5000, interval: Duration = .milliseconds(50),
        entriesForWholeInterval: Int = 1000, reclaimIdle: Duration = .seconds(30),
        forgetIdle: Duration = .seconds(3600),
        logger: Logger
    ) {
        self.store = store
        self.consumer = consumer
        self.batchSize = max(1, batchSize)
        self.interval = interval
        self.entriesForWholeInterval = max(1, entriesForWholeInterval)
        self.reclaimIdle = reclaimIdle
        self.forgetIdle = forgetIdle
        self.logger = logger
    }

    private var redis: RedisClient { store.cache.redis }

    /// Most entries per Redis command. About 250 µs of Redis's time for a read of this many, which the `state.update`
    /// requests queued behind it can afford; a batch is read in several such commands, each a round trip of its own,
    /// so that Redis serves other clients in between.
    var chunkSize: Int { min(batchSize, 200) }

    /// Most rows per PostgreSQL statement. PostgreSQL runs a statement without a pause, about 5 µs of a core a row:
    /// one of thousands of rows keeps a core from the event loops and Redis for milliseconds, which a request waiting
    /// on them feels; a hundred is half a millisecond.
    var rowsPerStatement: Int { min(batchSize, 100) }

    public func run() async throws {
        // Mostly Redis commands: on the Redis client's threads each is a direct call, where from the global executor
        // it was two thread hand-overs, and each hand-over a wake-up competing with the event loops for the CPUs.
        await withTaskExecutorPreference(redis.executor) { await drainUntilStopped() }
    }

    private func drainUntilStopped() async {
        let stopping = StopFlag()
        var state = LoopState()
        await withGracefulShutdownHandler {
            while !stopping.isSet, !Task.isCancelled {
                let stored = await iterate(&state, block: true)
                if state.drained, stored > 0, interval > .zero { await pause(wait(afterStoring: stored)) }
            }
        } onGracefulShutdown: {
            stopping.set()
        }
        // Drain: whatever was journaled before the servers stopped is stored before the process ends.
        // A round that stores nothing ends it, unless a failed batch waits for another try (a few at most).
        var fruitless = 0
        while !Task.isCancelled, fruitless < 5 {
            if await iterate(&state, block: false) > 0 {
                fruitless = 0
            } else {
                guard state.ownPending else { break }
                fruitless += 1
            }
        }
        logger.debug("state persister stopped")
    }

    struct LoopState {
        var groupReady = false
        /// Entries this consumer read but did not acknowledge (a failed batch): read again before new ones.
        var ownPending = true
        var lastReclaim = ContinuousClock.now - .seconds(3600)
        /// Where the next XAUTOCLAIM scan starts: it goes through the pending entries a batch at a time.
        var reclaimCursor: RedisArgument = "0-0"
        var lastGauges = ContinuousClock.now - .seconds(3600)
        /// The last read found the journal empty or took its last entries (rather than stopping at the batch size).
        var drained = false
    }

    /// One round; returns how many entries it stored.
    @discardableResult
    func iterate(_ state: inout LoopState, block: Bool) async -> Int {
        if store.isBypassingCache {
            if await !store.resumeCachingIfReachable() { await pause(.milliseconds(250)) }
            return 0
        }
        do {
            if !state.groupReady {
                try await createGroup()
                state.groupReady = true
            }
            var entries: [JournalEntry]
            state.drained = false
            if state.ownPending {
                (entries, _) = try await readBatch(pending: true)
                state.ownPending = !entries.isEmpty
            } else {
                entries = []
            }
            if entries.isEmpty, ContinuousClock.now - state.lastReclaim > reclaimIdle / 2 {
                (entries, state.reclaimCursor) = try await reclaim(from: state.reclaimCursor)
                // A scan that has not gone round yet goes on next round; a finished one waits.
                if state.reclaimCursor == "0-0" {
                    state.lastReclaim = .now
                    await forgetIdleConsumers()
                }
            }
            if entries.isEmpty {
                // Until this batch is stored, its entries are pending for this consumer: a failure part way (a
                // read whose reply was lost) leaves them to be read again from the pending list.
                state.ownPending = true
                (entries, state.drained) = try await readBatch(pending: false, block: block ? .milliseconds(200) : nil)
                state.ownPending = !entries.isEmpty
            }
            if ContinuousClock.now - state.lastGauges > .seconds(1) {
                state.lastGauges = .now
                if let stats = try? await store.journalStatistics() {
                    journalLength.record(stats.length)
                    persistLag.record(Double(stats.lagMilliseconds) / 1000)
                }
                do {
                    try await store.dropCopiesMadeStaleElsewhere()
                } catch {
                    logger.debug(
                        "could not check for writes made around the cache",
                        metadata: ["error": .string(String(describing: error))])
                }
            }
            guard !entries.isEmpty else { return 0 }
            // Pending for this consumer until stored (claimed ones included): read again first after a failure.
            state.ownPending = true
            try await persist(entries)
            state.ownPending = false
            return entries.count
        } catch let error as RedisError where error.meansUnreachable {
            logger.warning("state persister cannot reach Redis", metadata: ["error": .string(error.description)])
            state.groupReady = false
            // A read whose reply was lost still made the entries pending for this consumer: read them again first.
            state.ownPending = true
            await pause(.milliseconds(250))
        } catch let error as RedisError where error.serverErrorCode == "NOGROUP" {
            // The journal or its group is gone (FLUSHALL, a new Redis): make them again.
            logger.warning("the state journal's consumer group is missing; creating it again")
            state.groupReady = false
        } catch {
            logger.error(
                "state persister failed a batch; it will be retried",
                metadata: ["error": .string(String(describing: error))])
            await pause(.milliseconds(500))
        }
        return 0
    }

    /// How long to wait after a round that stored `entries` and emptied the journal.
    func wait(afterStoring entries: Int) -> Duration {
        entries >= entriesForWholeInterval ? interval : interval * (Double(entries) / Double(entriesForWholeInterval))
    }

    private func pause(_ duration: Duration) async {
        try? await Task.sleep(for: duration)
    }

    private func createGroup() async throws(RedisError) {
        do {
            _ = try await redis.command([
                "XGROUP", "CREATE", store.cache.journalKey, StateCache.consumerGroup, "0", "MKSTREAM",
            ])
        } catch  where error.serverErrorCode == "BUSYGROUP" {
            // Another instance (or an earlier run) made it.
        }
    }

    /// Removes other consumers that hold no entries and have not read for ``forgetIdle``: instances that stopped
    /// (their entries, if any, were reclaimed first). One script, so a consumer cannot take an entry between the
    /// check and the removal, which would drop that entry from the group's pending list. A consumer removed while
    /// alive (cut off from Redis for that long) is added again by its next read.
    private func forgetIdleConsumers() async {
        do {
            let removed = try await redis.evaluate(
                Self.forgetIdleConsumersScript,
                keys: [store.cache.journalKey],
                arguments: [
                    StateCache.consumerGroup, RedisArgument(consumer),
                    RedisArgument(Int(forgetIdle.wholeMilliseconds)),
                ])
            if let count = removed.intValue, count > 0 {
                logger.info(
                    "removed idle consumers from the state journal's group",
                    metadata: ["consumers": .stringConvertible(count)])
            }
        } catch {
            logger.debug(
                "could not remove idle consumers from the state journal's group",
                metadata: ["error": .string(String(describing: error))])
        }
    }

    static let forgetIdleConsumersScript = RedisScript(
        """
        local removed = 0
        for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
            local fields = {}
            for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
            if fields['name'] ~= ARGV[2] and fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[3]) then
                redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
                removed = removed + 1
            end
        end
        return removed
        """
    )

    /// Acknowledges the entries `ARGV[2…]` for the group `ARGV[1]` and removes them from the journal, which then
    /// holds exactly the entries not yet acknowledged. The entries below the oldest one the group still needs (its
    /// oldest pending entry, or else the first it has not delivered) go by trimming the journal up to there, which
    /// frees whole nodes of the stream at a time (about a twentieth of XDEL's cost); the others, above an entry
    /// another consumer still holds, one by one. IDs are compared as two numbers (milliseconds and a sequence); one
    /// with a part of 2^53 or more, which Lua cannot hold exactly, is always deleted one by one.
    static let acknowledgeScript = RedisScript(
        """
        redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
        local function parts(id)
            local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
            ms, seq = tonumber(ms), tonumber(seq)
            if ms and ms < 2^53 and seq < 2^53 then return ms, seq end
        end
        local firstMs, firstSeq
        local oldestPending = redis.call('XPENDING', KEYS[1], ARGV[1])[2]
        if oldestPending then
            firstMs, firstSeq = parts(oldestPending)
        else
            for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
                local fields = {}
                for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
                if fields['name'] == ARGV[1] then firstMs, firstSeq = parts(fields['last-delivered-id']) end
            end
            if firstSeq then firstSeq = firstSeq + 1 end
        end
        if firstMs then redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%.0f', firstMs, firstSeq)) end
        local rest = {}
        for i = 2, #ARGV do
            local ms, seq = parts(ARGV[i])
            local trimmed = firstMs and ms and (ms < firstMs or (ms == firstMs and seq < firstSeq))
            if not trimmed then rest[#rest + 1] = ARGV[i] end
        end
        if #rest > 0 then redis.call('XDEL', KEYS[1], unpack(rest)) end
        return #rest
        """
    )

    struct JournalEntry {
        var id: [UInt8]
        /// `nil` for an entry deleted since it was delivered, or one without a household, a version and a state:
        /// acknowledged and dropped rather than blocking the journal forever.
        var fields: Fields?

        /// An entry as journaled; its state is parsed only if it is the newest of its household in the batch.
        struct Fields {
            var household: UUID
            var version: Int64
            var stored: [UInt8]

            /// The entry with its state parsed; `nil` when the state is not JSON (written by hand).
            var readable: StateDatabase.Entry? {
                guard let state = try? ConversationState(storedText: stored, version: version) else { return nil }
                return .init(household: household, version: version, state: state.state)
            }
        }
    }

    /// Up to ``batchSize`` entries, in commands of ``chunkSize``: new ones, or (`pending`) the ones this consumer
    /// read before but did not acknowledge, oldest first; and whether there were no more.
    /// - Parameter block: How long the first read of new entries waits for one when there is none.
    private func readBatch(pending: Bool, block: Duration? = nil) async throws(RedisError) -> (
        [JournalEntry], drained: Bool
    ) {
        var entries: [JournalEntry] = []
        var id: RedisArgument = pending ? "0" : ">"
        var wait = block
        while entries.count < batchSize {
            let count = min(chunkSize, batchSize - entries.count)
            let more = try await read(id: id, count: count, block: wait)
            entries += more
            guard more.count == count, let last = more.last else { return (entries, true) }
            // New entries are always the next ones (">"); pending ones are read on from the last one read.
            if pending { id = RedisArgument(last.id) }
            wait = nil
        }
        return (entries, false)
    }

    private func read(id: RedisArgument, count: Int, block: Duration?) async throws(RedisError) -> [JournalEntry] {
        var command: [RedisArgument] = [
            "XREADGROUP", "GROUP", StateCache.consumerGroup, RedisArgument(consumer), "COUNT", RedisArgument(count),
        ]
        if let block {
            command += [
                "BLOCK",
                RedisArgument(Int(block.wholeMilliseconds)),
            ]
        }
        command += ["STREAMS", store.cache.journalKey, id]
        let reply = try await redis.command(command)
        guard let streams = reply.arrayValue, let stream = streams.first?.arrayValue, stream.count == 2,
            let items = stream[1].arrayValue
        else { return [] }
        return items.compactMap(Self.parse)
    }

    /// Claims entries left pending by another consumer for longer than ``reclaimIdle``, scanning from `cursor`;
    /// returns them and where the next scan starts ("0-0" again once the scan has gone round).
    private func reclaim(from cursor: RedisArgument) async throws(RedisError) -> ([JournalEntry], RedisArgument) {
        let idle = reclaimIdle.wholeMilliseconds
        let reply = try await redis.command([
            "XAUTOCLAIM", store.cache.journalKey, StateCache.consumerGroup, RedisArgument(consumer),
            RedisArgument(Int(idle)), cursor, "COUNT", RedisArgument(chunkSize),
        ])
        guard let parts = reply.arrayValue, parts.count >= 2, let items = parts[1].arrayValue else {
            return ([], "0-0")
        }
        let next = parts[0].bytes.map { RedisArgument($0) } ?? "0-0"
        let claimed = items.compactMap(Self.parse)
        if !claimed.isEmpty {
            logger.info(
                "claimed state journal entries left by another instance",
                metadata: ["entries": .stringConvertible(claimed.count)])
        }
        return (claimed, next)
    }

    /// `[id, [field, value, …]]`; the fields are nil for an entry deleted since it was delivered, or one that does
    /// not hold a household, a version and a state in either form (see ``StateCache/writeScript``).
    static func parse(_ item: RedisReply) -> JournalEntry? {
        guard let pair = item.arrayValue, pair.count == 2, let id = pair[0].bytes else { return nil }
        guard let fields = pair[1].arrayValue else { return JournalEntry(id: id, fields: nil) }
        if fields.count == 2, fields[0].stringValue == "e" {
            return JournalEntry(id: id, fields: fields[1].bytes.flatMap(Self.entryFields))
        }
        var household: UUID?
        var version: Int64?
        var stored: [UInt8]?
        var index = 0
        while index + 1 < fields.count {
            switch fields[index].stringValue {
            case "h": household = fields[index + 1].stringValue.flatMap(UUID.init(text:))
            case "v": version = fields[index + 1].intValue.map(Int64.init)
            case "s": stored = fields[index + 1].bytes
            default: break
            }
            index += 2
        }
        guard let household, let version, let stored else { return JournalEntry(id: id, fields: nil) }
        return JournalEntry(id: id, fields: .init(household: household, version: version, stored: stored))
    }

    /// `<household> <version> <state>`: the household as text, the version in decimal, then the state to the end
    /// (empty for none).
    static func entryFields(_ text: [UInt8]) -> JournalEntry.Fields? {
        let space = UInt8(ascii: " ")
        guard let first = text.firstIndex(of: space),
            let household = UUID(text: String(decoding: text[..<first], as: UTF8.self)),
            let second = text[(first + 1)...].firstIndex(of: space),
            // A version out of range (negative) is left for PostgreSQL to refuse, as in the older form.
            let version = Int64(String(decoding: text[(first + 1)..<second], as: UTF8.self))
        else { return nil }
        return .init(household: household, version: version, stored: Array(text[(second + 1)...]))
    }

    /// The newest entry of each household that holds a readable state. Only those are parsed: the others are
    /// older versions, which the newest one supersedes in PostgreSQL.
    static func newestPerHousehold(_ entries: [JournalEntry]) -> [StateDatabase.Entry] {
        var newest: [UUID: StateDatabase.Entry] = [:]
        // Newest last in the journal, so usually the first one seen of a household is the one kept.
        for entry in entries.reversed() {
            guard let fields = entry.fields else { continue }
            if let kept = newest[fields.household], kept.version >= fields.version { continue }
            // Unreadable (written by hand): dropped, and an older readable entry of the household is kept instead.
            guard let readable = fields.readable else { continue }
            newest[fields.household] = readable
        }
        return Array(newest.values)
    }

    private func persist(_ entries: [JournalEntry]) async throws {
        let newest = Self.newestPerHousehold(entries)
        // For each household, the version PostgreSQL holds from this batch; ``rowsPerStatement`` rows a statement, each
        // an upsert of its own. A failure part way leaves the whole batch to be stored again, which rewrites the rows
        // already stored at the same versions.
        var stored: [UUID: Int64] = [:]
        for rows in Self.pieces(newest, of: rowsPerStatement).map(Array.init) {
            do {
                stored.merge(try await store.rows.upsert(rows)) { _, new in new }
            } catch {
                guard error.refusesTheValues else { throw error }
                // Row by row, every readable entry of these households in journal order: when a household's newest
                // entry is the one refused, the one before it is still stored.
                let households = Set(rows.map(\.household))
                let all = entries.compactMap { entry in
                    entry.fields.flatMap { households.contains($0.household) ? $0.readable : nil }
                }
                stored.merge(try await persistOneByOne(all)) { _, new in new }
            }
        }
        // Only the versions PostgreSQL holds may expire from the cache. An entry skipped because PostgreSQL holds a
        // newer version (written around the cache) leaves its copy without a TTL: that copy holds acknowledged
        // updates PostgreSQL lacks, which the stale-copy check still has to combine with the newer version.
        // Marked before the entries are acknowledged: a failure (or a crash) in between leaves the entries to be
        // stored and marked again, where the other order left copies that never expire.
        let marks = stored.map { (household: $0.key, version: $0.value) }
        for piece in Self.pieces(marks, of: chunkSize) {
            try await store.cache.markPersisted(Array(piece))
        }
        for piece in Self.pieces(entries, of: chunkSize) {
            let ids = piece.map { RedisArgument($0.id) }
            _ = try await redis.evaluate(
                Self.acknowledgeScript, keys: [store.cache.journalKey], arguments: [StateCache.consumerGroup] + ids)
        }
        batchSizes.record(entries.count)
        // An entry older than the version stored counts as persisted too: its update is superseded in PostgreSQL.
        persisted.increment(
            by: entries.count { entry in
                guard let fields = entry.fields, let version = stored[fields.household] else { return false }
                return fields.version <= version
            })
    }

    /// `items` in consecutive pieces of at most `size`.
    private static func pieces<Element>(_ items: [Element], of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
    }

    /// After PostgreSQL refused a batch for its data (a value `jsonb` refuses, a state that is not an object, a
    /// negative version): each entry on its own. One it refuses (written before `state.update` checked for such
    /// values, or by hand) is logged and dropped, rather than holding up the
    /// journal behind it forever; its cached copy is left without an expiry, so reads still see it. Returns, for
    /// each household, the newest version PostgreSQL holds from these entries.
    private func persistOneByOne(_ entries: [StateDatabase.Entry]) async throws -> [UUID: Int64] {
        var stored: [UUID: Int64] = [:]
        for entry in entries {
            do {
                for (household, version) in try await store.rows.upsert([entry]) {
                    stored[household] = max(stored[household] ?? version, version)
                }
            } catch {
                guard error.refusesTheValues else { throw error }
                logger.error(
                    "PostgreSQL refused a state journal entry; it is dropped from the journal",
                    metadata: [
                        "household_id": .string(entry.household.lowercasedText),
                        "version": .stringConvertible(Int(entry.version)),
                        "sqlstate": .string(error.sqlState ?? ""),
                    ])
                dropped.increment()
            }
        }
        return stored
    }
}

/// A flag set once from the graceful-shutdown handler and read by the loop.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

extension StateStore {
    /// The journal's length and the age in milliseconds of its oldest entry (0 when empty); entries are deleted
    /// once persisted, so the oldest one is the oldest update not yet in PostgreSQL.
    func journalStatistics() async throws(RedisError) -> (length: Int, lagMilliseconds: Int) {
        let replies = try await cache.redis.pipeline([
            ["XLEN", cache.journalKey],
            ["XRANGE", cache.journalKey, "-", "+", "COUNT", "1"],
        ])
        let length = try replies[0].get().intValue ?? 0
        guard let first = try replies[1].get().arrayValue?.first?.arrayValue?.first?.stringValue,
            let milliseconds = first.split(separator: "-").first.flatMap({ Int($0) })
        else { return (length, 0) }
        let now = Int(Date().timeIntervalSince1970 * 1000)
        return (length, max(0, now - milliseconds))
    }
}
