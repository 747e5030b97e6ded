import JSONRPC
import Prometheus

/// `metrics.prometheus`: the Prometheus text exposition of every metric of the process.
public struct MetricsPrometheusMethod: JSONRPCMethod {
    public static let name = "metrics.prometheus"

    public struct Result: Encodable, Sendable {
        public var text: String
    }

    private let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handle(_ params: NoParams, context: RequestContext) async throws -> Result {
        Result(text: registry.emitToString())
    }
}
