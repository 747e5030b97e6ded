import Foundation
import JSONRPC
import Logging
import Metrics
import Postgres
import Redis
import Synchronization

/// Conversation state: read from Redis, missed reads loaded from PostgreSQL; writes acknowledged once they are in
/// Redis and its journal (one Lua step), persisted by ``StatePersister``.
///
/// When Redis cannot be reached, reads and writes go straight to PostgreSQL (``isBypassingCache``); writes made
/// then are recorded so that, before the cache is trusted again, the merges among them are applied again on the
/// journal's newest state (``StateDatabase/rebase(_:onto:cachedVersion:)``), whose copy the result replaces in the
/// cache if no write moved it on meanwhile, and every cached copy older than a replace or delete is dropped. The same
/// check runs whenever the Redis client has opened a connection since the last check, because a restarted Redis
/// may come back with copies older than what was written around it, and every second from the persister
/// (``dropCopiesMadeStaleElsewhere()``), for writes another instance made around a Redis this one can reach.
public final class StateStore: Sendable {
    /// What `state.update` does with the given state.
    public enum Change: Sendable {
        case replace(JSONValue)
        case merge(JSONValue)
        case delete

        func apply(to current: JSONValue?) -> JSONValue? {
            switch self {
            case .replace(let state): state
            case .merge(let patch): JSONMergePatch.apply(patch, to: current)
            case .delete: nil
            }
        }
    }

    public enum Source: String, Sendable, Encodable {
        case cache, database
    }

    /// A failure the client should hear about.
    public enum Failure: Error, Sendable, Equatable {
        case householdNotFound
        case versionMismatch(current: Int64)
        case tooLarge(limit: Int)
        case notAnObject
        /// A value PostgreSQL cannot store in `jsonb`: `field` is its path below the state, e.g. `.steps[2].note`.
        case unstorable(field: String, reason: String)
        /// A durable update was applied (in Redis and its journal, at `version`) but PostgreSQL did not store it
        /// before the answer: the persister stores it once PostgreSQL answers, or, when PostgreSQL holds a newer
        /// version written around the cache, the stale-copy check combines it with that version.
        case appliedNotDurable(version: Int64)
        /// The connection to Redis closed after the write was sent, before its reply: Redis may have applied it, so
        /// it is not applied again around the cache (as after a timeout).
        case outcomeUnknown
        /// An update with an expected version while Redis is unreachable, to a household not yet written during the
        /// outage: PostgreSQL may lack updates acknowledged just before it (still in the journal), so a match there
        /// would not mean the version is current. Once the household has been written around the cache, its
        /// version there is the newest, and compare-and-set works again.
        case expectedVersionNeedsCache
    }

    let cache: StateCache
    let rows: StateDatabase
    let logger: Logger
    /// The longest state accepted, as compact JSON.
    public let maximumStateBytes: Int

    /// ``Mode`` as its raw value.
    private let mode = Atomic<Int>(Mode.cache.rawValue)
    /// Bypass writes still running; the switch back to the cache waits for them.
    private let bypassWritesInFlight = Atomic<Int>(0)
    /// `RedisClient.connectionsOpened` when the stale-copy check last completed; -1 before the first.
    private let checkedAtConnections = Atomic<Int>(-1)
    /// The stale-copy check running now, shared by every request that needs it meanwhile.
    private let runningCheck = Mutex<RunningCheck?>(nil)
    private let nextCheckID = Atomic<Int>(0)
    /// Stale-copy checks run (for tests).
    let staleCopyChecks = Atomic<Int>(0)
    /// Tests only (set through `@testable import`, never in production): called in the stale-copy check after a
    /// rebase and before its result goes to the cache, so that a test can put a write in between.
    let beforeRebaseInstall = Mutex<(@Sendable (UUID) async throws -> Void)?>(nil)
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let hitCounter = Counter(label: "jules_state_cache_hits_total")
    private let missCounter = Counter(label: "jules_state_cache_misses_total")
    private let bypassCounter = Counter(label: "jules_state_bypass_writes_total")
    private let rebaseCounter = Counter(label: "jules_state_outage_rebases_total")

    public init(
        database: PostgresClient,
        redis: RedisClient,
        ttl: Duration = .seconds(300),
        maximumStateBytes: Int = 64 * 1024,
        keyPrefix: String = "jules:state:",
        logger: Logger
    ) {
        self.cache = StateCache(redis: redis, ttl: ttl, keyPrefix: keyPrefix)
        self.rows = StateDatabase(database: database)
        self.maximumStateBytes = maximumStateBytes
        self.logger = logger
    }

    /// Reads this instance answered from the cache.
    public var cacheHits: Int { hits.load(ordering: .relaxed) }
    /// Reads this instance had to load from PostgreSQL.
    public var cacheMisses: Int { misses.load(ordering: .relaxed) }

    /// The Redis key of a household's cached state (for operators and tests).
    public func cacheKey(for household: UUID) -> String {
        cache.keyPrefix + household.lowercasedText
    }

    /// The Redis key of the journal stream (for operators and tests).
    public var journalKey: String { cache.keyPrefix + "journal" }

    /// Whether reads and writes currently go straight to PostgreSQL because Redis could not be reached.
    public var isBypassingCache: Bool { mode.load(ordering: .relaxed) != Mode.cache.rawValue }

    /// Where reads and writes go.
    private enum Mode: Int {
        /// Redis, with PostgreSQL behind it.
        case cache
        /// Straight to PostgreSQL: Redis is unreachable.
        case bypass
        /// Redis is back; stale cached copies are being dropped. Requests wait for the switch to finish, so
        /// none can see a stale copy or write on top of one.
        case switching
    }

    /// Waits while the store switches back to the cache; returns whether to use the cache.
    private func useCache() async throws -> Bool {
        while true {
            switch Mode(rawValue: mode.load(ordering: .acquiring)) {
            case .cache: return true
            case .bypass: return false
            default: try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    // MARK: Reading

    /// The household's state, from the cache when it holds it.
    public func get(_ household: UUID) async throws -> (ConversationState, Source) {
        if try await useCache() {
            do {
                try await dropStaleCopiesIfReconnected()
                if let cached = try await cache.read(household) {
                    hits.add(1, ordering: .relaxed)
                    hitCounter.increment()
                    return (try ConversationState(storedText: cached.stored, version: cached.version), .cache)
                }
                misses.add(1, ordering: .relaxed)
                missCounter.increment()
                let loaded = try await load(household)
                try await cache.fill(household, loaded)
                return (loaded, .database)
            } catch let error as RedisError where error.meansUnreachable {
                startBypassing(error)
            }
        }
        return (try await load(household), .database)
    }

    private func load(_ household: UUID) async throws -> ConversationState {
        guard let loaded = try await rows.load(household) else { throw Failure.householdNotFound }
        return loaded
    }

    // MARK: Writing

    /// Applies `change`, only if the current version is `expected` when given; returns the new version.
    /// - Parameter durable: Also write the new state to PostgreSQL before returning.
    public func update(
        _ household: UUID,
        _ change: Change,
        expected: Int64? = nil,
        durable: Bool = false
    ) async throws -> Int64 {
        // A replacement is checked and encoded once, not again on each attempt.
        var replacement: String?
        if case .replace(let state) = change { replacement = try Self.encode(state, maximumBytes: maximumStateBytes) }
        while true {
            if try await useCache() {
                do {
                    return try await updateThroughCache(
                        household, change, replacement: replacement, expected: expected, durable: durable)
                } catch let error as RedisError where error.meansUnreachable {
                    startBypassing(error)
                }
            }
            // Counted, then the mode read again: the switch back to the cache sets the mode, then waits for the
            // count to reach zero, so it either sees this write in flight or this write sees the switch.
            bypassWritesInFlight.add(1, ordering: .sequentiallyConsistent)
            guard mode.load(ordering: .sequentiallyConsistent) == Mode.bypass.rawValue else {
                bypassWritesInFlight.subtract(1, ordering: .sequentiallyConsistent)
                continue
            }
            defer { bypassWritesInFlight.subtract(1, ordering: .sequentiallyConsistent) }
            return try await updateBypassingCache(household, change, expected: expected)
        }
    }

    private func updateBypassingCache(_ household: UUID, _ change: Change, expected: Int64?) async throws -> Int64 {
        let maximumStateBytes = self.maximumStateBytes
        var mergePatch: JSONValue?
        if case .merge(let patch) = change { mergePatch = patch }
        let outcome = try await rows.writeBypassingCache(household, expected: expected, mergePatch: mergePatch) {
            current in
            let newState = change.apply(to: current)
            if let newState { _ = try Self.encode(newState, maximumBytes: maximumStateBytes) }
            return newState
        }
        switch outcome {
        case .written(let state):
            bypassCounter.increment()
            return state.version
        case .versionMismatch(let current): throw Failure.versionMismatch(current: current)
        case .householdNotFound: throw Failure.householdNotFound
        case .comparisonUnsafe: throw Failure.expectedVersionNeedsCache
        }
    }

    private func updateThroughCache(
        _ household: UUID,
        _ change: Change,
        replacement: String?,
        expected: Int64?,
        durable: Bool
    ) async throws -> Int64 {
        try await dropStaleCopiesIfReconnected()
        // Racing writers of a merge retry on a newer version; a bounded number of times, then it is a conflict.
        for _ in 0..<32 {
            let newState: JSONValue?
            let stored: String
            let precondition: Int64?
            switch change {
            case .replace(let state):
                (newState, stored, precondition) = (state, replacement ?? state.jsonString, expected)
            case .delete:
                (newState, stored, precondition) = (nil, "", expected)
            case .merge:
                guard let cached = try await cache.read(household) else {
                    try await cache.fill(household, try await load(household))
                    continue
                }
                if let expected, expected != cached.version { throw Failure.versionMismatch(current: cached.version) }
                let current = try ConversationState(storedText: cached.stored, version: cached.version)
                let merged = change.apply(to: current.state)
                (newState, stored, precondition) = (
                    merged, try Self.encode(merged ?? .null, maximumBytes: maximumStateBytes), cached.version
                )
            }
            let outcome: StateCache.WriteOutcome
            do {
                outcome = try await cache.write(household, stored: stored, expected: precondition)
            } catch {
                guard error.code == .connectionClosed else { throw error }
                // Sent, and perhaps applied: writing it around the cache as well would apply it twice (a merge
                // again on top of later updates). The next request finds out whether Redis is reachable.
                logger.warning(
                    "the Redis connection closed before a state write's reply; it may have been applied",
                    metadata: ["error": .string(error.description)])
                throw Failure.outcomeUnknown
            }
            switch outcome {
            case .written(let version):
                if durable {
                    let persisted: [UUID: Int64]
                    do {
                        persisted = try await rows.upsert([
                            .init(household: household, version: version, state: newState)
                        ])
                    } catch {
                        // The update stands (and the journal will store it): saying only "failed" would invite the
                        // client to apply it a second time.
                        logger.warning(
                            "a durable state update was applied but PostgreSQL could not store it yet",
                            metadata: ["error": .string(String(describing: error))]
                        )
                        throw Failure.appliedNotDurable(version: version)
                    }
                    guard persisted[household] == version else {
                        // PostgreSQL holds a newer version, written around the cache while Redis was unreachable
                        // and not yet combined with the cached copy: the update stands in the cache, and the
                        // stale-copy check stores it on top of that version. (A household deleted since the write
                        // counts as stored: its state goes with it.)
                        logger.warning(
                            "a durable state update was applied but PostgreSQL holds a newer version; not yet durable",
                            metadata: [
                                "household_id": .string(household.lowercasedText),
                                "version": .stringConvertible(Int(version)),
                            ]
                        )
                        throw Failure.appliedNotDurable(version: version)
                    }
                }
                return version
            case .versionMismatch(let current):
                if expected != nil { throw Failure.versionMismatch(current: current) }
            case .miss:
                try await cache.fill(household, try await load(household))
            }
        }
        throw Failure.versionMismatch(current: try await cache.read(household)?.version ?? 0)
    }

    /// The state as stored (compact JSON), once it is known to be an object within the size limit that
    /// PostgreSQL can store.
    private static func encode(_ state: JSONValue, maximumBytes: Int) throws(Failure) -> String {
        guard case .object = state else { throw .notAnObject }
        let text = state.jsonString
        guard text.utf8.count <= maximumBytes else { throw .tooLarge(limit: maximumBytes) }
        try checkStorable(state, path: "")
        return text
    }

    /// The most digits a number in a state may have, and the largest exponent: `jsonb` keeps numbers as `numeric`,
    /// which rejects some (`0e-999999` overflows) and writes others back at full length (`1e130000` becomes
    /// 130,001 characters), so a small state could come back huge.
    static let maximumNumberDigits = 1_000
    static let maximumNumberExponent = 400

    /// Throws for what `jsonb` refuses or blows up: a U+0000 in a string or a key, or a number beyond the limits
    /// above. Checked before a state is acknowledged, so the journal never holds an
    /// entry PostgreSQL would reject.
    static func checkStorable(_ value: JSONValue, path: String) throws(Failure) {
        switch value {
        case .string(let text):
            if text.utf8.contains(0) { throw .unstorable(field: path, reason: "must not contain U+0000") }
        case .number(let text):
            if !isStorableNumber(text) {
                throw .unstorable(
                    field: path,
                    reason: "must be a number of at most \(maximumNumberDigits) digits, with an exponent of at most "
                        + "\(maximumNumberExponent) either way")
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() { try checkStorable(element, path: "\(path)[\(index)]") }
        case .object(let object):
            for (key, member) in object {
                let memberPath = path + "." + key
                if key.utf8.contains(0) {
                    throw .unstorable(field: memberPath, reason: "a key must not contain U+0000")
                }
                try checkStorable(member, path: memberPath)
            }
        case .bool, .null:
            break
        }
    }

    static func isStorableNumber(_ text: String) -> Bool {
        let utf8 = text.utf8
        let exponentStart = utf8.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let digits = utf8[..<(exponentStart ?? utf8.endIndex)].count { $0 &- 0x30 < 10 }
        guard digits <= maximumNumberDigits else { return false }
        if let exponentStart {
            // At most a sign and a few digits: anything longer is beyond the limit (and cannot overflow `Int`).
            let exponent = Substring(text.utf8[utf8.index(after: exponentStart)...])
            guard exponent.utf8.count <= 6, let value = Int(exponent), abs(value) <= maximumNumberExponent else {
                return false
            }
        }
        return true
    }

    // MARK: Redis outages

    private func startBypassing(_ error: RedisError) {
        let (exchanged, _) = mode.compareExchange(
            expected: Mode.cache.rawValue, desired: Mode.bypass.rawValue, ordering: .sequentiallyConsistent)
        if exchanged {
            logger.warning(
                "Redis is unreachable; conversation state goes straight to PostgreSQL until it is back",
                metadata: ["error": .string(error.description)]
            )
        }
    }

    /// Called while bypassing: if Redis answers again, drops the cached copies made stale meanwhile and goes back
    /// to the cache. Returns whether the cache is in use again.
    ///
    /// Stale copies are dropped twice: once while requests still bypass the cache (the bulk of them), then, after
    /// new requests are held and the bypass writes in flight have finished, once more for the writes made meanwhile.
    public func resumeCachingIfReachable() async -> Bool {
        guard isBypassingCache else { return true }
        do {
            try await cache.redis.ping()
            try await dropStaleCopies()
        } catch {
            return false
        }
        mode.store(Mode.switching.rawValue, ordering: .sequentiallyConsistent)
        do {
            // A bypass write that read the old mode is counted by now; any later request waits in useCache().
            while bypassWritesInFlight.load(ordering: .sequentiallyConsistent) > 0 {
                try await Task.sleep(for: .milliseconds(1))
            }
            try await dropStaleCopies()
        } catch {
            mode.store(Mode.bypass.rawValue, ordering: .sequentiallyConsistent)
            return false
        }
        mode.store(Mode.cache.rawValue, ordering: .sequentiallyConsistent)
        logger.info("Redis is reachable again; conversation state uses the cache")
        return true
    }

    private struct RunningCheck: Sendable {
        var id: Int
        var task: Task<Void, any Error>
    }

    /// Runs the stale-copy check when the Redis client has opened a connection since the last one. Requests that
    /// arrive while it runs wait for the same check rather than each running its own (after a reconnection, every
    /// request in flight would otherwise query PostgreSQL and walk the invalidations at once).
    func dropStaleCopiesIfReconnected() async throws {
        // Again after waiting: a check that started before this request's connection opened does not cover it.
        while cache.redis.connectionsOpened != checkedAtConnections.load(ordering: .relaxed) {
            try await sharedCheck()
        }
    }

    /// Called now and then (by the persister) while this instance uses the cache: when another instance has been
    /// writing around it (it could not reach Redis while this one can), runs the stale-copy check now, rather than
    /// at this instance's next reconnection. So this instance serves a copy older than such a write for at most
    /// one period.
    public func dropCopiesMadeStaleElsewhere() async throws {
        guard !isBypassingCache, try await rows.hasPendingInvalidations() else { return }
        try await sharedCheck()
    }

    /// Runs the stale-copy check, or waits for the one running.
    private func sharedCheck() async throws {
        let task = runningCheck.withLock { running -> Task<Void, any Error> in
            if let running { return running.task }
            let id = nextCheckID.add(1, ordering: .relaxed).newValue
            let task = Task {
                // Gone once finished, so that a failed check is not handed to later requests: they start
                // another.
                defer { runningCheck.withLock { if $0?.id == id { $0 = nil } } }
                try await dropStaleCopies()
            }
            running = RunningCheck(id: id, task: task)
            return task
        }
        try await task.value
    }

    /// How many times the check rebases one household whose cached copy keeps moving on under it before it leaves
    /// that household to the next check.
    static let maximumRebaseAttempts = 16

    /// For each household written around the cache: where the writes were all merges, combines them with the cached
    /// copy and caches the result in its place; else drops every cached copy older than them. Then forgets them.
    func dropStaleCopies() async throws {
        staleCopyChecks.add(1, ordering: .relaxed)
        let connections = cache.redis.connectionsOpened
        var rebased = 0
        for pending in try await rows.pendingInvalidations() {
            // First, so that no read which loaded a state older than these writes caches it once they are dealt
            // with (its fill may come after this check).
            try await cache.raiseFloor(pending.household, to: pending.version)
            if pending.needsRebase {
                let (outcome, rewrote) = try await reconcile(pending.household)
                if rewrote {
                    rebased += 1
                    rebaseCounter.increment()
                }
                if outcome != .noRebasePending { continue }
            }
            // A replace or delete made around the cache decides the whole state: no cached copy can be combined with
            // it, so every copy older than it is dropped, also one that a write was acknowledged on meanwhile (by an
            // instance that had not seen the invalidation yet: a partial outage is not lossless). A rebase that is no
            // longer pending ends here too: another instance finished it (no older copy is left to drop), or a
            // replace or delete came since.
            try await cache.invalidate(pending.household, olderThan: pending.version)
            try await rows.clearInvalidation(pending.household, version: pending.version)
        }
        if rebased > 0 {
            logger.info(
                "combined updates the journal held with merges made while Redis was unreachable",
                metadata: ["households": .stringConvertible(rebased)]
            )
        }
        checkedAtConnections.store(connections, ordering: .relaxed)
    }

    private enum Reconciliation: Equatable {
        /// The cache holds the writes made around it, which are forgotten (but for any made since).
        case reconciled
        /// The cached copy kept moving on: the writes are left for the next check.
        case leftPending
        /// No rebase is pending any more: another instance finished it, or a replace or delete made around the
        /// cache since decides the whole state.
        case noRebasePending
    }

    /// Combines a household's merges made around the cache with its cached copy, stores the result in PostgreSQL,
    /// and installs it in the cache in place of that copy, only if the copy is still the one the result was
    /// computed from. A write acknowledged on the copy meanwhile moved it on: the merges are combined again with the
    /// newer copy, a bounded number of times. Dropping the newer copy instead would lose that write: the journal's
    /// entry for it is skipped, PostgreSQL's version being above it already.
    ///
    /// Returns whether a rebase stored a new state, with the outcome.
    private func reconcile(_ household: UUID) async throws -> (Reconciliation, rewrote: Bool) {
        var rewrote = false
        for _ in 0..<Self.maximumRebaseAttempts {
            let cached = try await cachedCopy(household)
            guard
                let rebase = try await rows.rebase(
                    household, onto: cached?.state, cachedVersion: cached?.version)
            else { return (.noRebasePending, rewrote) }
            rewrote = rewrote || rebase.rewrote
            if rebase.installs {
                if let hook = beforeRebaseInstall.withLock({ $0 }) { try await hook(household) }
                if case .moved = try await cache.install(household, rebase.stored, replacing: cached?.version) {
                    continue
                }
            }
            try await rows.finishRebase(household, rebase)
            return (.reconciled, rewrote)
        }
        logger.warning(
            "a cached state kept changing while merges made around Redis were combined with it; next check retries",
            metadata: [
                "household_id": .string(household.lowercasedText),
                "attempts": .stringConvertible(Self.maximumRebaseAttempts),
            ]
        )
        return (.leftPending, rewrote)
    }

    /// The household's cached copy: its version, and its state (the journal's newest for it, if PostgreSQL lacks
    /// it), `nil` when unreadable: the writes made around the cache then stand alone, and replace it.
    private func cachedCopy(_ household: UUID) async throws -> (version: Int64, state: ConversationState?)? {
        guard let cached = try await cache.read(household) else { return nil }
        do {
            return (cached.version, try ConversationState(storedText: cached.stored, version: cached.version))
        } catch {
            logger.error(
                "a cached conversation state is unreadable; the writes made around Redis stand alone",
                metadata: ["household_id": .string(household.lowercasedText)]
            )
            return (cached.version, nil)
        }
    }
}

extension RedisError {
    /// Whether the failure means Redis cannot be reached (as opposed to a command the server refused), so state
    /// goes around it. A timeout does not count: Redis may have run the command (a write it applied must not be
    /// applied again around it, from an older base), and one slow reply on one instance must not send that
    /// instance alone around the cache while the others go on using it. The caller gets the error instead.
    var meansUnreachable: Bool {
        switch code {
        case .connectionFailed, .connectionClosed: true
        // Restarting with its append-only file, Redis answers LOADING until it has read its data back.
        case .server: serverErrorCode == "LOADING"
        default: false
        }
    }
}
