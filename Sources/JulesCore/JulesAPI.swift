import CoreMetrics
import JSONRPC
import Logging
import Postgres
import Prometheus
import Redis

/// Every JSON-RPC method of Jules core, built from the parts the process shares.
public struct JulesAPI: Sendable {
    /// When the service started.
    public var startedAt: ContinuousClock.Instant
    /// The registry `metrics.prometheus` exposes.
    public var registry: PrometheusCollectorRegistry
    /// The contract `rpc.discover` returns.
    public var document: OpenRPCDocument

    /// The system of record.
    public var database: PostgresClient
    /// Hot and shared state.
    public var redis: RedisClient
    /// When `health.check` reports a working component as degraded.
    public var healthThresholds: HealthThresholds
    /// Households, members and the opt-in audit log.
    public var members: Members
    /// Conversation state.
    public var state: StateStore
    /// The SMS queue.
    public var sms: SMS

    public init(
        startedAt: ContinuousClock.Instant,
        registry: PrometheusCollectorRegistry,
        document: OpenRPCDocument,
        database: PostgresClient,
        redis: RedisClient,
        cipher: PIICipher,
        defaultRegion: Region = .us,
        state: StateStore? = nil,
        sms: SMS? = nil,
        healthThresholds: HealthThresholds = HealthThresholds(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.startedAt = startedAt
        self.registry = registry
        self.document = document
        self.database = database
        self.redis = redis
        self.healthThresholds = healthThresholds
        self.members = Members(
            database: database, cipher: cipher, defaultRegion: defaultRegion, metricsFactory: metricsFactory)
        self.state = state ?? StateStore(database: database, redis: redis, logger: Logger(label: "jules.state"))
        self.sms = sms ?? SMS(database: database, cipher: cipher, providerName: "outbox", rate: 80)
    }

    /// The methods served, one value per method type.
    public var methods: [any JSONRPCMethod] {
        let apiCipher = APICipher(configured: members.cipher.keyRing)
        return [
            RPCDiscoverMethod(document: document),
            HealthLiveMethod(startedAt: startedAt),
            HealthCheckMethod(
                database: database, redis: redis, state: state, sms: sms, thresholds: healthThresholds),
            MetricsPrometheusMethod(registry: registry),
            EncryptionEncryptMethod(cipher: apiCipher),
            EncryptionDecryptMethod(cipher: apiCipher),
            EncryptionStatusMethod(database: database, cipher: members.cipher),
            StateGetMethod(store: state),
            StateUpdateMethod(store: state),
            StateDeleteMethod(store: state),
            StateStatsMethod(store: state),
        ] + members.methods + sms.methods
    }
}
