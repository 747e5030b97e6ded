import Redis

/// The Redis part of `health.check`: a round trip, the pool, and memory used against `maxmemory`.
public struct RedisHealth: Sendable {
    public struct Report: Encodable, Sendable {
        public var status: HealthStatus
        public var latencyMs: Double?
        public var pool: PoolReport
        public var usedMemoryBytes: Int64?
        public var maxMemoryBytes: Int64?
        public var memoryRatio: Double?
        public var reasons: [String]

        enum CodingKeys: String, CodingKey {
            case status, pool, reasons
            case latencyMs = "latency_ms"
            case usedMemoryBytes = "used_memory_bytes"
            case maxMemoryBytes = "maxmemory_bytes"
            case memoryRatio = "memory_ratio"
        }
    }

    let client: RedisClient
    let thresholds: HealthThresholds

    func check() async -> Report {
        let statistics = client.statistics
        var report = Report(
            status: .healthy,
            pool: PoolReport(statistics),
            reasons: []
        )
        let client = self.client
        do {
            let measured = try await withTimeout(thresholds.checkTimeout) {
                () async throws -> (Duration, [String: String]) in
                let start = ContinuousClock.now
                try await client.ping()
                let elapsed = ContinuousClock.now - start
                return (elapsed, try await client.info(section: "memory"))
            }
            guard let (latency, memory) = measured else {
                report.status = .unhealthy
                report.reasons.append("no answer within \(thresholds.checkTimeout)")
                return report
            }
            report.latencyMs = latency.milliseconds
            report.usedMemoryBytes = memory["used_memory"].flatMap { Int64($0) }
            report.maxMemoryBytes = memory["maxmemory"].flatMap { Int64($0) }
            if latency > thresholds.redisLatency {
                report.status = .degraded
                report.reasons.append("round trip slower than \(thresholds.redisLatency)")
            }
            if let used = report.usedMemoryBytes, let maximum = report.maxMemoryBytes, maximum > 0 {
                let ratio = Double(used) / Double(maximum)
                report.memoryRatio = ratio.rounded(toPlaces: 4)
                if ratio > thresholds.redisMemoryRatio {
                    report.status = max(report.status, .degraded)
                    report.reasons.append("memory above \(Int(thresholds.redisMemoryRatio * 100))% of maxmemory")
                }
            }
        } catch {
            report.status = .unhealthy
            report.reasons.append(String(describing: error))
        }
        return report
    }
}
