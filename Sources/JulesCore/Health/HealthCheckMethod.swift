import JSONRPC
import Postgres
import Redis
import Synchronization

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

/// Runs `body` within `timeout`; `nil` when it did not finish in time. The body is then cancelled and left to end on
/// its own: a check stuck in a call that cannot be cancelled (a libpq query already handed to its thread, a
/// connection to a host that stopped answering) must not hold up the answer. A task group would wait for it.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    let outcome = FirstOutcome<T?>()
    let work = Task {
        do {
            outcome.settle(.success(try await body()))
        } catch {
            outcome.settle(.failure(error))
        }
    }
    let timer = Task {
        try? await Task.sleep(for: timeout)
        if outcome.settle(.success(nil)) { work.cancel() }
    }
    return try await withTaskCancellationHandler {
        defer { timer.cancel() }
        return try await outcome.value()
    } onCancel: {
        if outcome.settle(.failure(CancellationError())) { work.cancel() }
    }
}

/// The first of several outcomes to arrive, handed to one waiter; the later ones are dropped.
private final class FirstOutcome<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiter: CheckedContinuation<Value, any Error>?
    }

    private let state = Mutex(State())

    /// Records `result` if it is the first; returns whether it was.
    @discardableResult
    func settle(_ result: Result<Value, any Error>) -> Bool {
        let (first, waiter): (Bool, CheckedContinuation<Value, any Error>?) = state.withLock { state in
            guard case .none = state.result else { return (false, nil) }
            state.result = result
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(with: result)
        return first
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, any Error>? = state.withLock { state in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
