import Foundation
import Postgres

/// The SMS part of `health.check`: the provider, the backlog of messages ready to go, and what the sender saw.
public struct SMSHealth: Sendable {
    public struct Report: Encodable, Sendable {
        public var status: HealthStatus
        public var provider: String
        /// Messages ready to go now (quiet hours and retry backoff excluded), and being sent.
        public var ready: Int?
        public var sending: Int?
        /// How long the oldest ready message has waited, in seconds.
        public var oldestReadySeconds: Double?
        public var consecutiveProviderFailures: Int
        public var lastProviderSuccessAt: String?
        public var rateLimiter: String
        public var reasons: [String]

        enum CodingKeys: String, CodingKey {
            case status, provider, ready, sending, reasons
            case oldestReadySeconds = "oldest_ready_seconds"
            case consecutiveProviderFailures = "consecutive_provider_failures"
            case lastProviderSuccessAt = "last_provider_success_at"
            case rateLimiter = "rate_limiter"
        }
    }

    /// Provider failures in a row after which the provider counts as degraded.
    static let failureThreshold = 5

    let sms: SMS
    let thresholds: HealthThresholds

    func check() async -> Report {
        let activity = sms.activity.snapshot
        var report = Report(
            status: .healthy, provider: sms.providerName,
            consecutiveProviderFailures: activity.consecutiveFailures,
            lastProviderSuccessAt: activity.lastSuccess.map(LogTimestamp.microseconds),
            rateLimiter: activity.limiterReachable ? "ok" : "unreachable", reasons: [])
        let queue = sms.queue
        let backlog = try? await withTimeout(thresholds.checkTimeout) { try await queue.backlog() }
        if let backlog = backlog ?? nil {
            report.ready = backlog.ready
            report.sending = backlog.sending
            report.oldestReadySeconds = (backlog.oldestReadySeconds * 1000).rounded() / 1000
            let limit = Double(thresholds.smsBacklogAge.components.seconds)
            if backlog.oldestReadySeconds > limit {
                report.status = .degraded
                report.reasons.append("a message ready to go has waited more than \(Int(limit)) s")
            }
        } else {
            report.status = .unhealthy
            report.reasons.append("the SMS queue cannot be read")
        }
        if activity.consecutiveFailures >= Self.failureThreshold {
            report.status = max(report.status, .degraded)
            report.reasons.append(
                "the last \(activity.consecutiveFailures) provider requests failed"
                    + (activity.lastFailureCode.map { " (latest code \($0))" } ?? ""))
        }
        if !activity.limiterReachable {
            report.status = max(report.status, .degraded)
            report.reasons.append("the rate limit cannot be checked in Redis: sending waits")
        }
        return report
    }
}
