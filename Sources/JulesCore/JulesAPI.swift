import JSONRPC
import Prometheus

/// Every JSON-RPC method of Jules core, built from the parts the process shares.
public struct JulesAPI: Sendable {
    /// When the service started.
    public var startedAt: ContinuousClock.Instant
    /// The registry `metrics.prometheus` exposes.
    public var registry: PrometheusCollectorRegistry
    /// The contract `rpc.discover` returns.
    public var document: OpenRPCDocument

    public init(startedAt: ContinuousClock.Instant, registry: PrometheusCollectorRegistry, document: OpenRPCDocument) {
        self.startedAt = startedAt
        self.registry = registry
        self.document = document
    }

    /// The methods served, one value per method type.
    public var methods: [any JSONRPCMethod] {
        [
            RPCDiscoverMethod(document: document),
            HealthLiveMethod(startedAt: startedAt),
            MetricsPrometheusMethod(registry: registry),
        ]
    }
}
