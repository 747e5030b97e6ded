import JSONRPC
import JulesCore
import Logging
import NIOCore
import Postgres
import Prometheus
import Redis
import Testing

/// `health.check` through the router, against the real servers.
enum HealthCheckSupport {
    static func check(_ router: JSONRPCRouter) async throws -> JSONValue {
        let answer = try #require(
            await router.respond(to: ByteBuffer(string: #"{"jsonrpc":"2.0","method":"health.check","id":1}"#))
        )
        return try #require(try JSONParser.parse(answer)["result"])
    }

    static func withRouter(
        thresholds: HealthThresholds = HealthThresholds(),
        _ body: (JSONRPCRouter) async throws -> Void
    ) async throws {
        // A database of its own with the schema, as a served instance has: the SMS component reads its queue.
        let (database, name) = try await StorageTestSupport.makeDatabase()
        let redis = try StorageTestSupport.makeRedis()
        do {
            try await Migrator(
                database: database, migrations: try Migration.embedded(), logger: StorageTestSupport.logger
            ).migrate()
        } catch {
            await database.shutdown()
            await redis.shutdown()
            try await StorageTestSupport.drop(name)
            throw error
        }
        let api = JulesAPI(
            startedAt: .now,
            registry: PrometheusCollectorRegistry(),
            document: try OpenRPCDocument.bundled(),
            database: database,
            redis: redis,
            cipher: try TestCipher.make(),
            healthThresholds: thresholds
        )
        let router = JSONRPCRouter(methods: api.methods, logger: StorageTestSupport.logger)
        do {
            try await body(router)
        } catch {
            await database.shutdown()
            await redis.shutdown()
            try await StorageTestSupport.drop(name)
            throw error
        }
        await database.shutdown()
        await redis.shutdown()
        try await StorageTestSupport.drop(name)
    }
}

@Suite(.enabled(if: StorageTestSupport.isConfigured, "needs JULES_TEST_DATABASE_URL and JULES_TEST_REDIS_URL"))
struct HealthCheckTests {
    /// Latency thresholds no shared test machine misses, so "healthy" tests the verdict, not the machine's load.
    static let lenient = HealthThresholds(databaseLatency: .seconds(5), redisLatency: .seconds(5))

    @Test func healthyServersReportHealthyWithTheirFigures() async throws {
        try await HealthCheckSupport.withRouter(thresholds: Self.lenient) { router in
            let result = try await HealthCheckSupport.check(router)
            #expect(result["status"] == "healthy")
            let database = try #require(result["components"]?["database"])
            #expect(database["status"] == "healthy")
            #expect((database["latency_ms"]?.doubleValue ?? -1) >= 0)
            #expect((database["database_size_bytes"]?.intValue ?? 0) > 0)
            #expect(database["pool"]?["size"]?.intValue == 10)
            let redis = try #require(result["components"]?["redis"])
            #expect(redis["status"] == "healthy")
            #expect((redis["used_memory_bytes"]?.intValue ?? 0) > 0)
            #expect(redis["maxmemory_bytes"]?.intValue != nil)
        }
    }

    @Test func thresholdsTurnAWorkingComponentDegraded() async throws {
        // A latency threshold nothing can meet: every component works but is reported degraded.
        let strict = HealthThresholds(databaseLatency: .nanoseconds(1), redisLatency: .nanoseconds(1))
        try await HealthCheckSupport.withRouter(thresholds: strict) { router in
            let result = try await HealthCheckSupport.check(router)
            #expect(result["status"] == "degraded")
            #expect(result["components"]?["database"]?["status"] == "degraded")
            #expect(result["components"]?["redis"]?["status"] == "degraded")
            #expect(result["components"]?["redis"]?["reasons"]?.arrayValue?.isEmpty == false)
        }
    }
}

/// Stops and starts the real servers: run on their own, after the other suites (scripts/test runs every suite
/// whose name ends in RestartTests in a second, serial pass).
@Suite(.serialized, .enabled(if: StorageTestSupport.canRestart, "needs JULES_TEST_SERVICES to stop and start servers"))
struct HealthRestartTests {
    @Test func stoppedRedisIsUnhealthyAndRecoversWithoutARestart() async throws {
        try await HealthCheckSupport.withRouter(thresholds: HealthCheckTests.lenient) { router in
            #expect(try await HealthCheckSupport.check(router)["status"] == "healthy")
            try StorageTestSupport.runServices("redis stop")
            let down = try await HealthCheckSupport.check(router)
            try StorageTestSupport.runServices("redis start")
            #expect(down["status"] == "unhealthy")
            #expect(down["components"]?["redis"]?["status"] == "unhealthy")
            #expect(down["components"]?["database"]?["status"] == "healthy")
            let back = try await HealthCheckSupport.check(router)
            #expect(back["status"] == "healthy")
        }
    }

    @Test func stoppedPostgresIsUnhealthyAndRecoversWithoutARestart() async throws {
        try await HealthCheckSupport.withRouter(thresholds: HealthCheckTests.lenient) { router in
            #expect(try await HealthCheckSupport.check(router)["status"] == "healthy")
            try StorageTestSupport.runServices("postgres stop")
            let down = try await HealthCheckSupport.check(router)
            try StorageTestSupport.runServices("postgres start")
            #expect(down["status"] == "unhealthy")
            #expect(down["components"]?["database"]?["status"] == "unhealthy")
            #expect(down["components"]?["sms"]?["status"] == "unhealthy", "the SMS queue cannot be read either")
            #expect(down["components"]?["redis"]?["status"] == "healthy")
            let back = try await HealthCheckSupport.check(router)
            #expect(back["status"] == "healthy")
        }
    }
}
