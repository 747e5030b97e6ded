import JSONRPC
import Postgres
import Redis

/// `health.check`: each dependency's verdict with the figures behind it; the overall status is the worst one.
///
/// A component that is down is reported `unhealthy` — the call itself still succeeds, so a monitor always gets a
/// report. Components are checked concurrently, each within `checkTimeout`.
public struct HealthCheckMethod: JSONRPCMethod {
    public static let name = "health.check"

    public struct Result: Encodable, Sendable {
        public var status: HealthStatus
        public var version: String
        public var components: Components
    }

    public struct Components: Encodable, Sendable {
        public var database: DatabaseHealth.Report
        public var redis: RedisHealth.Report
        public var state: StateHealth.Report
        public var sms: SMSHealth.Report
    }

    private let database: DatabaseHealth
    private let redis: RedisHealth
    private let state: StateHealth
    private let sms: SMSHealth

    public init(
        database: PostgresClient, redis: RedisClient, state: StateStore, sms: SMS, thresholds: HealthThresholds
    ) {
        self.database = DatabaseHealth(client: database, thresholds: thresholds)
        self.redis = RedisHealth(client: redis, thresholds: thresholds)
        self.state = StateHealth(store: state, thresholds: thresholds)
        self.sms = SMSHealth(sms: sms, thresholds: thresholds)
    }

    public func handle(_ params: NoParams, context: RequestContext) async throws -> Result {
        async let databaseReport = database.check()
        async let redisReport = redis.check()
        async let stateReport = state.check()
        async let smsReport = sms.check()
        let components = Components(
            database: await databaseReport, redis: await redisReport, state: await stateReport, sms: await smsReport)
        return Result(
            status: max(
                components.database.status, components.redis.status, components.state.status, components.sms.status),
            version: JulesVersion.current,
            components: components
        )
    }
}

/// Runs `body` within `timeout`; `nil` when it did not finish in time (the body is then cancelled).
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
