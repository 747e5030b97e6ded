import JSONRPC
import Prometheus

/// `metrics.prometheus`: the Prometheus text exposition of every metric of the process.
public struct MetricsPrometheusMethod: SynchronousJSONRPCMethod {
    public static let name = "metrics.prometheus"

    public struct Result: Encodable, Sendable {
        public var text: String
    }

    private let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handleNow(_ params: NoParams, context: RequestContext) -> Result {
        Result(text: registry.emitToString())
    }
}
