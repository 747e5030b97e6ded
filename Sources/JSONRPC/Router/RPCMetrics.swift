import CoreMetrics
import NIOConcurrencyHelpers

/// Request counts, errors and latency per method, created when the router is built so that every method shows
/// in the exposition from the start, not only after its first call.
final class RPCMetrics: Sendable {
    private struct MethodMetrics: Sendable {
        let requests: Counter
        let duration: Timer
    }

    private struct ErrorKey: Hashable, Sendable {
        let method: String
        let type: String
    }

    /// The label used for calls to methods that do not exist: the names come from clients, and one series per
    /// made-up name would let any client grow the exposition without bound.
    static let unknownMethodLabel = "_unknown"

    private let factory: any MetricsFactory
    private let methods: [String: MethodMetrics]
    private let unknown: MethodMetrics
    private let errors: NIOLockedValueBox<[ErrorKey: Counter]>

    init(methodNames: [String], factory: any MetricsFactory) {
        self.factory = factory
        func make(_ method: String) -> MethodMetrics {
            MethodMetrics(
                requests: Counter(label: "rpc_requests_total", dimensions: [("method", method)], factory: factory),
                duration: Timer(
                    label: "rpc_request_duration_seconds",
                    dimensions: [("method", method)],
                    factory: factory
                )
            )
        }
        var methods: [String: MethodMetrics] = [:]
        var errors: [ErrorKey: Counter] = [:]
        for name in methodNames {
            methods[name] = make(name)
            let key = ErrorKey(method: name, type: JSONRPCError.internalError.type)
            errors[key] = Self.makeErrorCounter(key, factory: factory)
        }
        self.methods = methods
        self.unknown = make(Self.unknownMethodLabel)
        self.errors = NIOLockedValueBox(errors)
    }

    /// Records one finished request.
    func record(method: String, nanoseconds: Int64, errorType: String?) {
        let metrics = methods[method] ?? unknown
        metrics.requests.increment()
        metrics.duration.recordNanoseconds(nanoseconds)
        if let errorType {
            let key = ErrorKey(method: methods[method] == nil ? Self.unknownMethodLabel : method, type: errorType)
            let counter = errors.withLockedValue { counters in
                if let counter = counters[key] { return counter }
                let counter = Self.makeErrorCounter(key, factory: factory)
                counters[key] = counter
                return counter
            }
            counter.increment()
        }
    }

    private static func makeErrorCounter(_ key: ErrorKey, factory: any MetricsFactory) -> Counter {
        Counter(
            label: "rpc_request_errors_total",
            dimensions: [("method", key.method), ("type", key.type)],
            factory: factory
        )
    }
}
