import ArgumentParser
import JulesCore
import Postgres
import Redis

/// Where PostgreSQL and Redis are, and how the clients behave, from the environment.
struct StorageSettings {
    var database: PostgresConfiguration
    var redis: RedisConfiguration
    /// How long start-up keeps retrying an unreachable server before giving up.
    var startupTimeout: Duration

    init() throws {
        guard let databaseURL = Environment.string("JULES_DATABASE_URL") else {
            throw ValidationError(
                "JULES_DATABASE_URL is not set: give a postgres:// URL or a libpq conninfo string "
                    + "(scripts/run starts a local PostgreSQL and sets it)"
            )
        }
        guard let redisURL = Environment.string("JULES_REDIS_URL") else {
            throw ValidationError(
                "JULES_REDIS_URL is not set: give redis://host:port/db or unix:///path/to/redis.sock "
                    + "(scripts/run starts a local Redis and sets it)"
            )
        }
        do {
            database = try PostgresConfiguration(connectionString: databaseURL)
        } catch {
            throw ValidationError("JULES_DATABASE_URL is not usable: \(error)")
        }
        do {
            redis = try RedisConfiguration(url: redisURL)
        } catch {
            throw ValidationError("JULES_REDIS_URL is not usable: \(error)")
        }
        database.poolSize = try Environment.integer("JULES_DATABASE_POOL_SIZE", default: 10, range: 1...500)
        redis.poolSize = try Environment.integer("JULES_REDIS_POOL_SIZE", default: 10, range: 1...500)
        let statementTimeout = try Environment.integer(
            "JULES_STATEMENT_TIMEOUT_MS", default: 30_000, range: 0...3_600_000)
        database.statementTimeout = statementTimeout == 0 ? nil : .milliseconds(statementTimeout)
        startupTimeout = .seconds(
            try Environment.integer("JULES_STARTUP_TIMEOUT_SECONDS", default: 30, range: 0...3600)
        )
    }

    /// Thresholds for `health.check`, from `JULES_HEALTH_*`.
    static func healthThresholds() throws -> HealthThresholds {
        var thresholds = HealthThresholds()
        thresholds.databaseLatency = .milliseconds(
            try Environment.integer("JULES_HEALTH_DATABASE_LATENCY_MS", default: 100, range: 1...60_000)
        )
        thresholds.redisLatency = .milliseconds(
            try Environment.integer("JULES_HEALTH_REDIS_LATENCY_MS", default: 50, range: 1...60_000)
        )
        thresholds.redisMemoryRatio =
            Double(
                try Environment.integer("JULES_HEALTH_REDIS_MEMORY_PERCENT", default: 90, range: 1...100)
            ) / 100
        thresholds.smsBacklogAge = .seconds(
            try Environment.integer("JULES_HEALTH_SMS_BACKLOG_SECONDS", default: 60, range: 1...86_400)
        )
        return thresholds
    }
}
