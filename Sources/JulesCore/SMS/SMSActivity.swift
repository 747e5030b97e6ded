import Foundation
import Synchronization

/// What this instance's sender saw of the provider and the rate limiter lately, for `health.check`.
public final class SMSActivity: Sendable {
    public struct Snapshot: Sendable {
        /// Provider requests in a row that failed with an error worth retrying or an unknown outcome.
        public var consecutiveFailures = 0
        public var lastSuccess: Date?
        public var lastFailure: Date?
        /// The provider's code of the latest failure, if it gave one.
        public var lastFailureCode: Int?
        /// Whether the rate limit could be checked in Redis the last time the sender asked.
        public var limiterReachable = true
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func providerAnswered() {
        state.withLock {
            $0.consecutiveFailures = 0
            $0.lastSuccess = Date()
        }
    }

    /// A failure that says something about the provider's health (not a refusal of one message).
    func providerFailed(code: Int?) {
        state.withLock {
            $0.consecutiveFailures += 1
            $0.lastFailure = Date()
            $0.lastFailureCode = code
        }
    }

    func limiter(reachable: Bool) {
        state.withLock { $0.limiterReachable = reachable }
    }
}
