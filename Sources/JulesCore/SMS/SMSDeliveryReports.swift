import CoreMetrics
import Foundation
import Logging
import Postgres

/// Applies the provider's delivery reports: to the message that has the report's sid, or, for a final report whose
/// sid no message has yet, held until the sender records it. A report with Twilio's 21610 (the recipient replied
/// STOP to the carrier) also opts the member out, with the carrier as the source.
struct SMSDeliveryReports: Sendable {
    let queue: SMSQueue

    enum Outcome: Sendable {
        case applied(SMSQueue.Report)
        /// Kept until a message takes the sid.
        case held
        /// Not final and no message has the sid: there is nothing to keep.
        case unknown
    }

    /// A report as it came; `status` nil for one that moves nothing (queued, accepted, sending, …).
    func receive(
        sid: String,
        status: SMSStatus?,
        errorCode: Int?,
        errorMessage: String?,
        correlationID: String,
        logger: Logger
    ) async throws(PostgresError) -> Outcome {
        if let report = try await apply(sid, status ?? .sent, errorCode, errorMessage, correlationID, logger) {
            return .applied(report)
        }
        guard let status, status.isFinal else { return .unknown }
        try await queue.holdReport(sid: sid, status: status, errorCode: errorCode, errorMessage: errorMessage)
        // The sender may have recorded the sid after it looked for held reports and before this one was kept.
        if let report = try await apply(sid, status, errorCode, errorMessage, correlationID, logger) {
            _ = try await queue.takeHeldReport(sid: sid)
            return .applied(report)
        }
        logger.info("delivery report held until its message is recorded", metadata: ["sid": .string(sid)])
        return .held
    }

    /// Applies what was held for `sid`, now that a message has it.
    func applyHeld(sid: String, correlationID: String, logger: Logger) async throws(PostgresError) {
        guard let held = try await queue.takeHeldReport(sid: sid) else { return }
        _ = try await apply(sid, held.status, held.errorCode, held.errorMessage, correlationID, logger)
    }

    private func apply(
        _ sid: String, _ status: SMSStatus, _ errorCode: Int?, _ errorMessage: String?, _ correlationID: String,
        _ logger: Logger
    ) async throws(PostgresError) -> SMSQueue.Report? {
        guard
            let report = try await queue.report(
                sid: sid, status: status, errorCode: errorCode, errorMessage: errorMessage)
        else { return nil }
        let metrics = SMSMetrics()
        if report.changed { metrics.finished(report.status, segments: report.segments) }
        if errorCode == ProviderFailure.unsubscribedCode {
            try await carrierOptOut(report.memberID, messageSID: sid, correlationID: correlationID, logger: logger)
        }
        return report
    }

    /// Opts a member out because the carrier says the number unsubscribed (21610, at send time or in a report),
    /// with the carrier as the audit source; a member already opted out is left as is. Once per message: a report
    /// the provider sends again (or a late copy) after the member opted back in must not opt them out again.
    func carrierOptOut(
        _ memberID: UUID, messageSID: String?, correlationID: String, logger: Logger
    ) async throws(PostgresError) {
        if let messageSID {
            let done = try await queue.database.query(
                """
                SELECT 1 FROM opt_in_audit_log
                WHERE member_id = $1 AND message_sid = $2 AND source = 'carrier' AND new_state = 'opted_out'
                LIMIT 1
                """,
                [.uuid(memberID), .text(messageSID)])
            guard done.isEmpty else { return }
        }
        let outcome = try await MemberStore(database: queue.database).setOptInState(
            memberID: memberID, to: .optedOut,
            audit: .init(source: .carrier, keyword: nil, messageSID: messageSID, correlationID: correlationID))
        if case .changed = outcome {
            SMSMetrics().optOuts.increment()
            logger.notice("member opted out by the carrier", metadata: ["member_id": .string(memberID.lowercasedText)])
        }
    }
}
