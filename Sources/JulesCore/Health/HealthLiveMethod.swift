import JSONRPC

/// `health.live`: answers as long as the process serves requests. It touches no dependency, so a supervisor can
/// tell a hung process from one whose database is down (that is `health.check`).
public struct HealthLiveMethod: SynchronousJSONRPCMethod {
    public static let name = "health.live"

    public struct Result: Encodable, Sendable, JSONValueRepresentable {
        public var status: String
        public var version: String
        public var uptimeSeconds: Double

        enum CodingKeys: String, CodingKey {
            case status
            case version
            case uptimeSeconds = "uptime_seconds"
        }

        public var jsonValue: JSONValue {
            .object([
                "status": .string(status), "version": .string(version), "uptime_seconds": JSONValue(uptimeSeconds),
            ])
        }
    }

    private let startedAt: ContinuousClock.Instant

    /// - Parameter startedAt: When the service started; uptime is counted from it.
    public init(startedAt: ContinuousClock.Instant) {
        self.startedAt = startedAt
    }

    public func handleNow(_ params: NoParams, context: RequestContext) -> Result {
        let uptime = ContinuousClock.now - startedAt
        let seconds = Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18
        return Result(status: "ok", version: JulesVersion.current, uptimeSeconds: (seconds * 1000).rounded() / 1000)
    }
}
