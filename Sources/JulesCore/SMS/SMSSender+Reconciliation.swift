import Foundation
import JSONRPC
import Logging
import Metrics

/// Settling, with the provider, messages whose fate is unknown: a send that got no answer, or a row left `sending`
/// by an instance that died.
extension SMSSender {
    /// Looks for a message whose fate is unknown at the provider: found, it is recorded as sent; not found, it
    /// goes back in the queue (the lost attempt is not counted when `attempt` is nil: the process died, not the
    /// provider). If the provider cannot be asked, the row is left for a later reconciliation.
    func reconcile(
        id: UUID, claim: SMSQueue.Claim, memberID: UUID, to: String, body: String, since: Date, segments: Int,
        attempt: Int?, failure: ProviderFailure
    ) async {
        do {
            let known = try await queue.knownSIDs(memberID: memberID, excluding: id)
            switch try await provider.find(to: to, body: body, since: since, excluding: known) {
            case .found(let receipt):
                logger.info(
                    "SMS found at the provider after an unknown outcome",
                    metadata: ["message_id": "\(id.lowercasedText)"])
                metrics.reconciled.increment(by: 1)
                await recordSent(id, claim: claim, segments: segments, receipt: receipt, attempt: attempt ?? 0)
            case .notFound:
                let delay = attempt.map { backoff(attempt: $0) } ?? .zero
                let status = try await queue.retry(
                    id, claim: claim, delay: delay,
                    maximumAttempts: configuration.maximumAttempts, failure: failure, countsAsAttempt: attempt != nil)
                if status == .failed {
                    metrics.finished(.failed, segments: segments)
                } else if status == .queued {
                    metrics.retries.increment()
                } else {
                    claimLost("retry", id: id)
                    return
                }
                logger.info(
                    "SMS not found at the provider after an unknown outcome; queued again",
                    metadata: ["message_id": "\(id.lowercasedText)", "status": "\(status?.rawValue ?? "lost")"])
            }
        } catch {
            let waited = Date().timeIntervalSince(since)
            guard waited > Double(configuration.unknownOutcomeLimit.components.seconds) else {
                logger.warning(
                    "an SMS of unknown outcome could not be reconciled yet; trying again after its lease",
                    metadata: ["message_id": "\(id.lowercasedText)", "error": "\(error)"])
                return
            }
            // Asked in vain for too long: sending it again could deliver it twice, so it ends here.
            await giveUp(id: id, claim: claim, segments: segments, lookupError: error)
        }
    }

    /// Ends a message whose fate the provider could not be asked about in time: `failed`, `unknown_outcome`.
    func giveUp(id: UUID, claim: SMSQueue.Claim, segments: Int, lookupError: any Error) async {
        do {
            guard
                try await queue.giveUp(
                    id, claim: claim,
                    message: "the provider could not be asked whether it took the message: \(lookupError)")
            else {
                claimLost("give_up", id: id)
                return
            }
            metrics.finished(.failed, segments: segments)
            logger.error(
                "an SMS of unknown outcome could not be reconciled in time; it ends failed (unknown_outcome)",
                metadata: ["message_id": "\(id.lowercasedText)", "error": "\(lookupError)"])
        } catch {
            logger.warning("an SMS of unknown outcome could not be given up yet", metadata: ["error": "\(error)"])
        }
    }

    /// Takes over rows left `sending` by instances that died, and settles each with the provider.
    func reconcileOrphans(includingOwnBefore startedAt: Date?) async {
        let orphans: [SMSQueue.Orphan]
        do {
            orphans = try await queue.adoptOrphans(
                limit: 50, instance: configuration.instance, lease: configuration.lease,
                includingOwnBefore: startedAt)
        } catch {
            logger.warning("rows of dead SMS senders could not be looked for", metadata: ["error": "\(error)"])
            return
        }
        for orphan in orphans {
            await CorrelationID.withValue(orphan.correlationID ?? CorrelationID.generate()) {
                guard let token = orphan.phoneToken, let to = try? cipher.open(token) else {
                    // Erased, or unreadable: it cannot be looked up nor sent; the next attempt fails it properly.
                    _ = try? await queue.retry(
                        orphan.id, claim: orphan.claim, delay: .zero,
                        maximumAttempts: configuration.maximumAttempts,
                        failure: ProviderFailure(kind: .unknownFate, message: "the sender died mid-request"),
                        countsAsAttempt: false)
                    return
                }
                await reconcile(
                    id: orphan.id, claim: orphan.claim, memberID: orphan.memberID, to: to, body: orphan.body,
                    since: orphan.attemptStartedAt, segments: orphan.segments, attempt: nil,
                    failure: ProviderFailure(kind: .unknownFate, message: "the sender died mid-request"))
            }
        }
        if !orphans.isEmpty {
            logger.info("reconciled SMS left in flight by a dead sender", metadata: ["count": "\(orphans.count)"])
        }
    }
}
