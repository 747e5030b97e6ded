import Foundation
import Redis

/// Token buckets in Redis, shared by every instance: one for the account, and one for the sender number when it has
/// a limit of its own. A message costs its segments; it goes when every bucket it draws from holds enough.
///
/// A bucket refills continuously at its rate up to its capacity, so the messages sent in any window of `t` seconds
/// cost at most `rate × t + capacity` segments, whatever the number of instances. The script reads Redis's clock,
/// so instances with different clocks agree. A message dearer than a bucket's capacity waits for a full bucket and
/// then takes it below zero, which later messages wait out: the average rate holds for long messages too.
public struct SMSRateLimiter: Sendable {
    /// One bucket: its Redis key, its rate in segments per second, and how many segments it holds when full.
    public struct Bucket: Sendable, Equatable {
        public var key: String
        public var rate: Double
        public var capacity: Double

        public init(key: String, rate: Double, capacity: Double) {
            self.key = key
            self.rate = rate
            self.capacity = capacity
        }
    }

    let redis: RedisClient
    public let buckets: [Bucket]

    public init(redis: RedisClient, buckets: [Bucket]) {
        precondition(!buckets.isEmpty && buckets.allSatisfy { $0.rate > 0 && $0.capacity >= 1 })
        self.redis = redis
        self.buckets = buckets
    }

    /// Takes `cost` segments from every bucket if they all hold enough, and returns `nil`; otherwise takes nothing
    /// and returns how long to wait before asking again.
    public func tryAcquire(cost: Int) async throws(RedisError) -> Duration? {
        var arguments: [RedisArgument] = [RedisArgument(String(cost))]
        for bucket in buckets {
            arguments.append(RedisArgument(String(bucket.rate)))
            arguments.append(RedisArgument(String(bucket.capacity)))
        }
        let reply = try await redis.evaluate(
            Self.script, keys: buckets.map { RedisArgument($0.key) }, arguments: arguments)
        guard let microseconds = reply.intValue else {
            throw RedisError(.protocolError, message: "the rate-limit script answered \(reply)")
        }
        return microseconds <= 0 ? nil : .microseconds(microseconds)
    }

    /// Waits until `cost` segments are taken. Throws `CancellationError` when the task is cancelled, and what Redis
    /// throws when it cannot be reached.
    public func acquire(cost: Int) async throws {
        while let wait = try await tryAcquire(cost: cost) {
            try await Task.sleep(for: wait)
        }
    }

    /// KEYS: the buckets. ARGV[1]: the cost; then each bucket's rate (per second) and capacity.
    /// Returns 0 when the tokens were taken, else the microseconds until they would be there.
    static let script = RedisScript(
        """
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local cost = tonumber(ARGV[1])
        local wait = 0
        local levels = {}
        for i, key in ipairs(KEYS) do
            local rate = tonumber(ARGV[2 * i])
            local capacity = tonumber(ARGV[2 * i + 1])
            local state = redis.call('HMGET', key, 'tokens', 'at')
            local tokens = tonumber(state[1])
            local at = tonumber(state[2])
            if tokens == nil or at == nil then
                tokens = capacity
                at = now
            end
            if now > at then
                tokens = math.min(capacity, tokens + (now - at) * rate / 1000000)
            end
            levels[i] = tokens
            local needed = math.min(cost, capacity)
            if tokens < needed then
                wait = math.max(wait, math.ceil((needed - tokens) * 1000000 / rate))
            end
        end
        if wait > 0 then
            return wait
        end
        for i, key in ipairs(KEYS) do
            local rate = tonumber(ARGV[2 * i])
            local capacity = tonumber(ARGV[2 * i + 1])
            redis.call('HSET', key, 'tokens', string.format('%.6f', levels[i] - cost), 'at', string.format('%d', now))
            redis.call('PEXPIRE', key, math.ceil((capacity + cost) * 1000 / rate) + 1000)
        end
        return 0
        """
    )
}
