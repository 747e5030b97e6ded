import Foundation
import Redis

/// The Redis side of conversation state: one hash per household (`v` version, `s` compact JSON, empty for none)
/// and the journal stream the persister drains into PostgreSQL.
///
/// A written entry has no TTL until the persister has stored its version in PostgreSQL; only then does it expire
/// (after ``ttl``). So an entry whose update is not yet durable can never expire, and a cache miss always means that
/// PostgreSQL holds the newest state (with Redis's `noeviction` or a `volatile-*` eviction policy).
struct StateCache: Sendable {
    let redis: RedisClient
    /// How long a persisted entry stays cached after its last write or load.
    let ttl: Duration
    /// Prefixes every key, so several deployments (or test runs) can share one Redis.
    let keyPrefix: String
    let journalKey: RedisArgument

    static let consumerGroup: RedisArgument = "jules-state-persisters"

    init(redis: RedisClient, ttl: Duration, keyPrefix: String) {
        self.redis = redis
        self.ttl = ttl
        self.keyPrefix = keyPrefix
        self.journalKey = RedisArgument(keyPrefix + "journal")
    }

    func key(_ household: UUID) -> RedisArgument {
        RedisArgument(keyPrefix + household.lowercasedText)
    }

    /// The lowest version a fill may cache for a household, set by the stale-copy check (``raiseFloor(_:to:)``).
    func floorKey(_ household: UUID) -> RedisArgument {
        RedisArgument(keyPrefix + "floor:" + household.lowercasedText)
    }

    var ttlSeconds: RedisArgument {
        RedisArgument(String(max(1, ttl.components.seconds)))
    }

    /// The cached state, or `nil` on a miss.
    func read(_ household: UUID) async throws(RedisError) -> CachedRead? {
        // The hot path: batched with the other reads in flight into one round trip.
        let reply = try await redis.batchedCommand([RedisArgument("HMGET"), key(household), "v", "s"])
        guard let fields = reply.arrayValue, fields.count == 2, let version = fields[0].intValue else { return nil }
        return CachedRead(version: Int64(version), stored: fields[1].bytes ?? [])
    }

    struct CachedRead: Sendable {
        var version: Int64
        var stored: [UInt8]
    }

    enum WriteOutcome: Sendable, Equatable {
        /// Written and journaled at this version.
        case written(Int64)
        /// The cached version was not the expected one; this is the current one.
        case versionMismatch(current: Int64)
        /// Nothing cached: load from PostgreSQL, fill, and try again.
        case miss
    }

    /// Writes a new state (the empty string deletes it) at the cached version + 1 and appends it to the journal,
    /// atomically; only if the cached version is `expected` (any cached version when `nil`).
    func write(
        _ household: UUID,
        stored: String,
        expected: Int64?
    ) async throws(RedisError) -> WriteOutcome {
        let reply = try await redis.batchedEvaluate(
            Self.writeScript,
            keys: [key(household), journalKey],
            arguments: [
                RedisArgument(expected.map(String.init) ?? ""), RedisArgument(stored),
                RedisArgument(household.lowercasedText),
            ]
        )
        // {status, version}: a reply of any other shape is never taken as an acknowledged version.
        guard let values = reply.arrayValue, values.count == 2, let status = values[0].intValue,
            let version = values[1].intValue
        else {
            throw RedisError(.protocolError, message: "unexpected reply from the state write script")
        }
        switch status {
        case 1: return .written(Int64(version))
        case 0: return .versionMismatch(current: Int64(version))
        default: return .miss
        }
    }

    /// Caches a state loaded from PostgreSQL, unless the cache already holds that version or a newer one, or the
    /// stale-copy check has seen a newer one written around the cache.
    func fill(_ household: UUID, _ state: ConversationState) async throws(RedisError) {
        _ = try await redis.batchedEvaluate(
            Self.fillScript,
            keys: [key(household), floorKey(household)],
            arguments: [RedisArgument(String(state.version)), RedisArgument(state.storedText), ttlSeconds]
        )
    }

    /// Lets entries expire whose cached version is the one just persisted.
    ///
    /// Not batched with the requests' commands: those are pipelined on the event loops' connections, where a
    /// command of hundreds of keys would hold up the requests queued behind it on the same connection.
    func markPersisted(_ versions: [(household: UUID, version: Int64)]) async throws(RedisError) {
        guard !versions.isEmpty else { return }
        _ = try await redis.evaluate(
            Self.markPersistedScript,
            keys: versions.map { key($0.household) },
            arguments: versions.map { RedisArgument(String($0.version)) } + [ttlSeconds]
        )
    }

    enum InstallOutcome: Sendable, Equatable {
        case installed
        /// The cached copy is no longer the one expected; this is its version now (`nil`: none is cached).
        case moved(current: Int64?)
    }

    /// Caches a state PostgreSQL already holds in place of the cached copy it was computed from: only if the cached
    /// version is still `expected` (no copy is cached, when `nil`). It expires after ``ttl``, as a filled entry. Its
    /// version must be above `expected`, so that the cached version only moves forward.
    ///
    /// The stale-copy check installs its rebase this way: a write acknowledged on the copy after the rebase read it
    /// moves the version on, so the check sees it and rebases again rather than dropping that write.
    func install(
        _ household: UUID,
        _ state: ConversationState,
        replacing expected: Int64?
    ) async throws(RedisError) -> InstallOutcome {
        let reply = try await redis.batchedEvaluate(
            Self.installScript,
            keys: [key(household)],
            arguments: [
                RedisArgument(expected.map(String.init) ?? ""), RedisArgument(String(state.version)),
                RedisArgument(state.storedText), ttlSeconds,
            ]
        )
        guard let values = reply.arrayValue, values.count == 2, let status = values[0].intValue,
            let version = values[1].intValue
        else {
            throw RedisError(.protocolError, message: "unexpected reply from the state install script")
        }
        switch status {
        case 1: return .installed
        case 0: return .moved(current: Int64(version))
        default: return .moved(current: nil)
        }
    }

    /// Keeps fills below `version` out of the cache for ``ttl``: a read that loaded an older state from PostgreSQL
    /// before a write around the cache, and fills it only after the stale-copy check has dealt with that write,
    /// would otherwise cache a copy older than an acknowledged update, which no later check would drop.
    func raiseFloor(_ household: UUID, to version: Int64) async throws(RedisError) {
        _ = try await redis.batchedEvaluate(
            Self.raiseFloorScript,
            keys: [floorKey(household)],
            arguments: [RedisArgument(String(version)), ttlSeconds]
        )
    }

    /// Drops cached entries older than `version` (written around Redis while it was unreachable).
    func invalidate(_ household: UUID, olderThan version: Int64) async throws(RedisError) {
        _ = try await redis.batchedEvaluate(
            Self.invalidateScript,
            keys: [key(household)],
            arguments: [RedisArgument(String(version))]
        )
    }

    // MARK: Scripts

    /// Versions are formatted with %.0f: Lua 5.1 numbers are doubles, and tostring() would write 1e+15.
    ///
    /// A journal entry is one field, `e`: the household, the version and the stored state, each followed by a space
    /// but the last (so `"<household> <version> "` for a delete). One field rather than three makes a smaller entry
    /// to append, read back and log in the append-only file, and half the elements in the persister's replies.
    /// Entries of older builds, with fields `h`, `v` and `s`, are still read.
    static let writeScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if not current then return {-1, 0} end
        if ARGV[1] ~= '' and current ~= ARGV[1] then return {0, tonumber(current)} end
        local version = string.format('%.0f', tonumber(current) + 1)
        redis.call('HSET', KEYS[1], 'v', version, 's', ARGV[2])
        redis.call('PERSIST', KEYS[1])
        redis.call('XADD', KEYS[2], '*', 'e', ARGV[3] .. ' ' .. version .. ' ' .. ARGV[2])
        return {1, tonumber(version)}
        """
    )

    static let fillScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
        local floor = redis.call('GET', KEYS[2])
        if floor and tonumber(floor) > tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        return 1
        """
    )

    /// A key that is not a hash (made by hand) is passed over rather than failing the batch's other keys: the
    /// persister runs this before it acknowledges the entries, so an error would store the batch again for ever.
    static let markPersistedScript = RedisScript(
        """
        local ttl = ARGV[#ARGV]
        for i, key in ipairs(KEYS) do
            if redis.pcall('HGET', key, 'v') == ARGV[i] then redis.call('EXPIRE', key, ttl) end
        end
        return 0
        """
    )

    /// {1, version} installed; {0, current} another version is cached; {-1, 0} none is (one was expected).
    static let installScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current ~= (ARGV[1] ~= '' and ARGV[1] or false) then
            if current then return {0, tonumber(current)} end
            return {-1, 0}
        end
        redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        return {1, tonumber(ARGV[2])}
        """
    )

    static let raiseFloorScript = RedisScript(
        """
        local floor = redis.call('GET', KEYS[1])
        if floor and tonumber(floor) >= tonumber(ARGV[1]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        return 1
        """
    )

    static let invalidateScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current and tonumber(current) < tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
        return 0
        """
    )
}
