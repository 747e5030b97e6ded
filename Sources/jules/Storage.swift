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

    /// Connects to PostgreSQL (and Redis when `withRedis`), each retried with backoff for the start-up timeout.
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
            async let redisReady: Void = connect(redis, settings)
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

    private static func connect(_ redis: RedisClient?, _ settings: StorageSettings) async throws {
        guard let redis else { return }
        do {
            try await redis.connect(retryFor: settings.startupTimeout)
        } catch {
            throw StartupFailure(description: "cannot reach Redis (\(settings.redis.redactedDescription)): \(error)")
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
