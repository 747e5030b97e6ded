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

    /// Caches a state loaded from PostgreSQL, unless the cache already holds that version or a newer one.
    func fill(_ household: UUID, _ state: ConversationState) async throws(RedisError) {
        _ = try await redis.batchedEvaluate(
            Self.fillScript,
            keys: [key(household)],
            arguments: [RedisArgument(String(state.version)), RedisArgument(state.storedText), ttlSeconds]
        )
    }

    /// Lets entries expire whose cached version is the one just persisted.
    func markPersisted(_ versions: [(household: UUID, version: Int64)]) async throws(RedisError) {
        guard !versions.isEmpty else { return }
        _ = try await redis.batchedEvaluate(
            Self.markPersistedScript,
            keys: versions.map { key($0.household) },
            arguments: versions.map { RedisArgument(String($0.version)) } + [ttlSeconds]
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
    static let writeScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if not current then return {-1, 0} end
        if ARGV[1] ~= '' and current ~= ARGV[1] then return {0, tonumber(current)} end
        local version = string.format('%.0f', tonumber(current) + 1)
        redis.call('HSET', KEYS[1], 'v', version, 's', ARGV[2])
        redis.call('PERSIST', KEYS[1])
        redis.call('XADD', KEYS[2], '*', 'h', ARGV[3], 'v', version, 's', ARGV[2])
        return {1, tonumber(version)}
        """
    )

    static let fillScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        return 1
        """
    )

    static let markPersistedScript = RedisScript(
        """
        local ttl = ARGV[#ARGV]
        for i, key in ipairs(KEYS) do
            if redis.call('HGET', key, 'v') == ARGV[i] then redis.call('EXPIRE', key, ttl) end
        end
        return 0
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
