import CoreMetrics
import Foundation

/// The SMS sender's metrics: messages and segments by the status they reached, retries, provider latency,
/// opt-outs reported by the carrier, reconciliations, superseded claims, duplicate sends, and spend.
struct SMSMetrics: Sendable {
    let retries = Counter(label: "jules_sms_retries_total")
    let optOuts = Counter(label: "jules_sms_carrier_opt_outs_total")
    let reconciled = Counter(label: "jules_sms_reconciled_total")
    let sendLatency = Timer(label: "jules_sms_provider_request_duration_seconds")
    /// Messages ready to go, and being sent, by every instance (as of this instance's last look).
    let readyDepth = Gauge(label: "jules_sms_queue_ready")
    let sendingDepth = Gauge(label: "jules_sms_queue_sending")

    /// A receipt for a message whose row had ended with another sid: the provider took the message twice.
    let duplicateSends = Counter(label: "jules_sms_duplicate_sends_total")

    /// A change a sender wanted to make to a row after its claim of the row had been superseded (`transition`:
    /// `start`, `sent`, `retry`, `fail`, `give_up`, `hold`).
    func claimLost(_ transition: String) {
        Counter(label: "jules_sms_claims_lost_total", dimensions: [("transition", transition)]).increment()
    }

    /// A message whose member's number could not be decrypted (`reason`: `key_not_configured`, the message waits;
    /// `undecryptable`, it fails).
    func recipientUnreadable(_ reason: Member.Unreadable.Reason) {
        Counter(label: "jules_sms_recipients_unreadable_total", dimensions: [("reason", reason.rawValue)]).increment()
    }

    func finished(_ status: SMSStatus, segments: Int) {
        Counter(label: "jules_sms_messages_total", dimensions: [("status", status.rawValue)]).increment()
        Counter(label: "jules_sms_segments_total", dimensions: [("status", status.rawValue)]).increment(by: segments)
    }

    /// Twilio reports a charge as a negative amount; the counter adds what was spent, in millionths of the unit.
    func recordPrice(_ price: Decimal, unit: String) {
        let micros = NSDecimalNumber(decimal: abs(price) * 1_000_000).int64Value
        guard micros > 0 else { return }
        Counter(label: "jules_sms_spend_micros_total", dimensions: [("unit", unit)]).increment(by: micros)
    }
}
