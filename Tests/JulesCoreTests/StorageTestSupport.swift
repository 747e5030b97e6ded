import Foundation
import Logging
import Postgres
import Redis
import Testing

/// The real PostgreSQL and Redis that scripts/test starts, and throw-away databases on them.
enum StorageTestSupport {
    static let databaseURL = ProcessInfo.processInfo.environment["JULES_TEST_DATABASE_URL"]
    static let redisURL = ProcessInfo.processInfo.environment["JULES_TEST_REDIS_URL"]
    /// A command that starts, stops and restarts the servers: `$JULES_TEST_SERVICES redis stop`.
    static let services = ProcessInfo.processInfo.environment["JULES_TEST_SERVICES"]

    static var isConfigured: Bool { databaseURL != nil && redisURL != nil }
    static var canRestart: Bool { isConfigured && services != nil }

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A new, empty database for one test; dropped by `drop`.
    static func makeDatabase() async throws -> (client: PostgresClient, name: String) {
        let admin = PostgresClient(
            configuration: try PostgresConfiguration(connectionString: databaseURL!), logger: logger)
        let name = "jules_test_" + UUID().uuidString.prefix(8).lowercased()
        _ = try await admin.query("CREATE DATABASE \(name)")
        await admin.shutdown()
        let client = PostgresClient(
            configuration: try PostgresConfiguration(connectionString: databaseURL!.replacingDatabase(with: name)),
            logger: logger
        )
        return (client, name)
    }

    static func drop(_ name: String) async throws {
        let admin = PostgresClient(
            configuration: try PostgresConfiguration(connectionString: databaseURL!), logger: logger)
        _ = try await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await admin.shutdown()
    }

    /// A client of the test Redis. Commands wait up to 10 s for their reply (the default is 2 s): beside every
    /// suite of a loaded CI run, a reply once took longer, and no test here is about timeouts.
    static func makeRedis() throws -> RedisClient {
        var configuration = try RedisConfiguration(url: redisURL!)
        configuration.commandTimeout = .seconds(10)
        return RedisClient(configuration: configuration, logger: logger)
    }

    /// Runs `$JULES_TEST_SERVICES <arguments>` and waits for it.
    static func runServices(_ arguments: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(services!) \(arguments)"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "services \(arguments)")
    }
}

extension String {
    /// The same connection URL with another database name (the test URLs are `postgresql://user@/db?...`).
    func replacingDatabase(with name: String) -> String {
        guard let slash = range(of: "@/") else { return self }
        let rest = self[slash.upperBound...]
        let end = rest.firstIndex(of: "?") ?? rest.endIndex
        return String(self[..<slash.upperBound]) + name + String(rest[end...])
    }
}
