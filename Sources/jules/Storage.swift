import JulesCore
import Logging
import NIOCore
import NIOPosix
import Postgres
import Redis
import ServiceLifecycle

/// The PostgreSQL and Redis clients of a process, connected at start-up.
struct Storage {
    let database: PostgresClient
    let redis: RedisClient?

    /// Connects to PostgreSQL (and Redis when `withRedis`), each retried with backoff for the start-up timeout; an
    /// unreachable PostgreSQL stops the start, an unreachable Redis does not (see `connect(_:_:logger:)`).
    /// - Parameter eventLoopGroup: The loops the requests run on: Redis gives each of them a connection of its
    ///   own (it must outlive ``shutdown()``).
    /// - Throws: ``StartupFailure`` naming what could not be reached (never a password).
    static func connect(
        _ settings: StorageSettings,
        withRedis: Bool,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> Storage {
        let database = PostgresClient(configuration: settings.database, logger: logger)
        let redis =
            withRedis
            ? RedisClient(configuration: settings.redis, logger: logger, eventLoopGroup: eventLoopGroup) : nil
        do {
            async let databaseReady: Void = connect(database, settings)
            async let redisReady: Void = connect(redis, settings, logger: logger)
            _ = try await (databaseReady, redisReady)
        } catch {
            await database.shutdown()
            await redis?.shutdown()
            throw error
        }
        return Storage(database: database, redis: redis)
    }

    private static func connect(_ database: PostgresClient, _ settings: StorageSettings) async throws {
        do {
            try await database.connect(retryFor: settings.startupTimeout)
        } catch {
            throw StartupFailure(
                description: "cannot reach PostgreSQL (\(settings.database.redactedDescription)): \(error)")
        }
    }

    /// Redis that never answered within the start-up timeout does not stop the start: a running service carries
    /// on without it (state goes straight to PostgreSQL, SMS sending waits for the rate limit) and takes it up
    /// again when it answers, so a restart during a Redis outage must not turn it into an outage of the service.
    /// A Redis that answered with an error (a wrong password, a database it does not have) is a configuration to
    /// fix: that stops the start.
    private static func connect(_ redis: RedisClient?, _ settings: StorageSettings, logger: Logger) async throws {
        guard let redis else { return }
        do throws(RedisError) {
            try await redis.connect(retryFor: settings.startupTimeout)
        } catch {
            guard error.serverMessage == nil, error.code == .connectionFailed || error.code == .connectionClosed else {
                throw StartupFailure(
                    description: "cannot use Redis (\(settings.redis.redactedDescription)): \(error)")
            }
            logger.error(
                """
                Redis is unreachable at start-up; starting without it: conversation state goes straight to \
                PostgreSQL and SMS sending waits until it answers
                """,
                metadata: [
                    "redis": .string(settings.redis.redactedDescription), "error": .string(String(describing: error)),
                ])
        }
    }

    func shutdown() async {
        await redis?.shutdown()
        await database.shutdown()
    }
}

/// Why the process could not start.
struct StartupFailure: Error, CustomStringConvertible {
    let description: String
}

/// Closes the storage clients when the service group shuts down. Listed first in the group, it is shut down
/// last, after the servers have drained the requests that still use the clients.
struct StorageShutdownService: Service {
    let storage: Storage

    func run() async throws {
        try? await gracefulShutdown()
        await storage.shutdown()
    }
}
