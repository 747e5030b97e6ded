/// The conversation-state part of `health.check`: whether the cache is in use, and how far the persister lags.
public struct StateHealth: Sendable {
    public struct Report: Encodable, Sendable {
        public var status: HealthStatus
        /// `cache`, or `database` while Redis is unreachable and state goes straight to PostgreSQL.
        public var mode: StateStore.Source
        public var journalLength: Int?
        public var persistLagMs: Int?
        public var reasons: [String]

        enum CodingKeys: String, CodingKey {
            case status, mode, reasons
            case journalLength = "journal_length"
            case persistLagMs = "persist_lag_ms"
        }
    }

    let store: StateStore
    /// Persist lag above which the state store is `degraded`, and how long the check may take.
    let thresholds: HealthThresholds

    func check() async -> Report {
        guard !store.isBypassingCache else {
            return Report(
                status: .degraded, mode: .database,
                reasons: ["Redis is unreachable: state is read from and written to PostgreSQL directly"])
        }
        let store = self.store
        let journal = try? await withTimeout(thresholds.checkTimeout) { try await store.journalStatistics() }
        guard let journal = journal ?? nil else {
            return Report(status: .degraded, mode: .cache, reasons: ["the state journal cannot be read"])
        }
        var report = Report(
            status: .healthy, mode: .cache, journalLength: journal.length, persistLagMs: journal.lagMilliseconds,
            reasons: [])
        let limit = Int(thresholds.statePersistLag.components.seconds * 1000)
        if journal.lagMilliseconds > limit {
            report.status = .degraded
            report.reasons.append("the oldest unpersisted update is older than \(limit) ms")
        }
        return report
    }
}
