import Postgres

/// The database part of `health.check`: a round trip, the pool, and the database's size.
public struct DatabaseHealth: Sendable {
    public struct Report: Encodable, Sendable {
        public var status: HealthStatus
        public var latencyMs: Double?
        public var pool: PoolReport
        public var databaseSizeBytes: Int64?
        public var reasons: [String]

        enum CodingKeys: String, CodingKey {
            case status, pool, reasons
            case latencyMs = "latency_ms"
            case databaseSizeBytes = "database_size_bytes"
        }
    }

    let client: PostgresClient
    let thresholds: HealthThresholds

    func check() async -> Report {
        let statistics = client.statistics
        var report = Report(
            status: .healthy,
            latencyMs: nil,
            pool: PoolReport(statistics),
            databaseSizeBytes: nil,
            reasons: []
        )
        let client = self.client
        do {
            let measured = try await withTimeout(thresholds.checkTimeout) { () async throws -> (Duration, Int64) in
                // The round trip is SELECT 1's alone: the size walks the database's files, which takes longer the
                // more relations there are, and is not what the latency threshold is about.
                let start = ContinuousClock.now
                _ = try await client.query("SELECT 1")
                let elapsed = ContinuousClock.now - start
                let rows = try await client.query("SELECT pg_database_size(current_database()) AS size")
                return (elapsed, try rows.first?.decode("size", as: Int64.self) ?? 0)
            }
            guard let (latency, size) = measured else {
                report.status = .unhealthy
                report.reasons.append("no answer within \(thresholds.checkTimeout)")
                return report
            }
            report.latencyMs = latency.milliseconds
            report.databaseSizeBytes = size
            if latency > thresholds.databaseLatency {
                report.status = .degraded
                report.reasons.append("round trip slower than \(thresholds.databaseLatency)")
            }
            if statistics.waiting > 0 {
                report.status = max(report.status, .degraded)
                report.reasons.append("\(statistics.waiting) callers waiting for a connection")
            }
        } catch {
            report.status = .unhealthy
            report.reasons.append(String(describing: error))
        }
        return report
    }
}
