import Foundation
import JSONRPC
import Logging
import Metrics

/// Settling, with the provider, messages whose fate is unknown: a send that got no answer, or a row left `sending`
/// by an instance that died.
extension SMSSender {
    /// Settles a message whose fate is unknown with the provider: found, it is recorded as sent; not found by a
    /// look-up made ``SMSSenderConfiguration/unknownOutcomeSettle`` or more after the attempt, it goes back in the
    /// queue (the lost attempt is not counted when `attempt` is nil: the process died, not the provider).
    ///
    /// An earlier look-up that does not find it proves nothing, since the provider's list can lag behind a message
    /// it has just created. After a send of this sender's (`attempt` given) it keeps looking, at doubling intervals,
    /// holding the row meanwhile; an orphan (looked at from the sender's loop, which must not wait) and a message
    /// whose sender is shutting down are held until their next look-up, which whichever instance adopts the row
    /// then makes. If the provider cannot be asked, the row is left for a later reconciliation.
    func reconcile(
        id: UUID, claim: SMSQueue.Claim, memberID: UUID, to: String, body: String, since: Date, segments: Int,
        attempt: Int?, failure: ProviderFailure, stopping: StopFlag? = nil
    ) async {
        let settle = configuration.unknownOutcomeSettle.timeInterval
        let settled = since.addingTimeInterval(settle)
        var interval = max(settle / 16, 0.05)
        // Matches found to belong to other rows: recording one here would break the sid's uniqueness, fail, and
        // leave the row in flight to match it again at every lease.
        var takenElsewhere: Set<String> = []
        while true {
            let asked = Date()
            let lookup: ProviderLookup
            do {
                let known = try await queue.knownSIDs(memberID: memberID, excluding: id).union(takenElsewhere)
                lookup = try await provider.find(to: to, body: body, since: since, excluding: known)
                if case .found(let receipt) = lookup, try await queue.isRecorded(sid: receipt.sid, onAnotherThan: id) {
                    takenElsewhere.insert(receipt.sid)
                    continue
                }
            } catch {
                await lookupFailed(id: id, claim: claim, since: since, segments: segments, error: error)
                return
            }
            if case .found(let receipt) = lookup {
                logger.info(
                    "SMS found at the provider after an unknown outcome",
                    metadata: ["message_id": "\(id.lowercasedText)"])
                metrics.reconciled.increment(by: 1)
                await recordSent(id, claim: claim, segments: segments, receipt: receipt, attempt: attempt ?? 0)
                return
            }
            if asked >= settled {
                await requeue(id: id, claim: claim, segments: segments, attempt: attempt, failure: failure)
                return
            }
            // Too early to tell. An orphan waits for its age again (its first look-ups were made before it was
            // orphaned, as far as anyone can tell), up to the moment the list has settled.
            if attempt == nil { interval = max(interval, asked.timeIntervalSince(since)) }
            let wait = max(0, min(asked.addingTimeInterval(interval), settled).timeIntervalSinceNow)
            let waitsHere = attempt != nil && stopping?.isSet != true
            // Held for the wait, plus a lease for the next look-up when this sender makes it.
            let holding = Duration.milliseconds(Int64(wait * 1000)) + (waitsHere ? configuration.lease : .zero)
            do {
                guard try await queue.hold(id, claim: claim, for: holding) else {
                    claimLost("hold", id: id)
                    return
                }
            } catch {
                logger.warning(
                    "an SMS of unknown outcome could not be held for its next look-up; it is looked up after its lease",
                    metadata: ["message_id": "\(id.lowercasedText)", "error": "\(error)"])
                return
            }
            logger.info(
                "SMS not found at the provider yet after an unknown outcome; looking again before sending it again",
                metadata: [
                    "message_id": "\(id.lowercasedText)", "next_lookup_in_ms": "\(Int(wait * 1000))",
                    "settled_in_ms": "\(Int(settled.timeIntervalSinceNow * 1000))",
                ])
            guard waitsHere else { return }
            await pause(seconds: wait, unless: stopping)
            interval *= 2
        }
    }

    /// Puts a message the provider has no trace of back in the queue (or fails it after its last attempt).
    private func requeue(id: UUID, claim: SMSQueue.Claim, segments: Int, attempt: Int?, failure: ProviderFailure)
        async
    {
        let status: SMSStatus?
        do {
            status = try await queue.retry(
                id, claim: claim, delay: attempt.map { backoff(attempt: $0) } ?? .zero,
                maximumAttempts: configuration.maximumAttempts, failure: failure, countsAsAttempt: attempt != nil)
        } catch {
            logger.warning(
                "an SMS not found at the provider could not be queued again; it is looked up after its lease",
                metadata: ["message_id": "\(id.lowercasedText)", "error": "\(error)"])
            return
        }
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

    /// The provider could not be asked: the row is left for a later reconciliation, or given up after
    /// ``SMSSenderConfiguration/unknownOutcomeLimit``.
    private func lookupFailed(id: UUID, claim: SMSQueue.Claim, since: Date, segments: Int, error: any Error) async {
        let waited = Date().timeIntervalSince(since)
        guard waited > configuration.unknownOutcomeLimit.timeInterval else {
            logger.warning(
                "an SMS of unknown outcome could not be reconciled yet; trying again after its lease",
                metadata: ["message_id": "\(id.lowercasedText)", "error": "\(error)"])
            return
        }
        // Asked in vain for too long: sending it again could deliver it twice, so it ends here.
        await giveUp(id: id, claim: claim, segments: segments, lookupError: error)
    }

    /// Sleeps `seconds`, or less if the sender is asked to stop meanwhile.
    private func pause(seconds: TimeInterval, unless stopping: StopFlag?) async {
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < end, stopping?.isSet != true {
            try? await Task.sleep(for: min(.milliseconds(250), end - ContinuousClock.now))
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
                if let keyID = orphan.keyID, orphan.phoneToken != nil,
                    Member.Unreadable.Reason(keyID: keyID, cipher: cipher) == .keyNotConfigured
                {
                    // The dead sender may have sent it: only an instance that can read the number can ask the
                    // provider. Put back in the queue, it would be sent again. It stays in flight, let go at once,
                    // for an instance with the key to adopt.
                    logger.warning(
                        "an SMS left in flight by a dead sender waits for an instance with its member's key",
                        metadata: ["message_id": "\(orphan.id.lowercasedText)", "key_id": "\(keyID)"])
                    try? await queue.releaseAdoption(orphan.id, claim: orphan.claim)
                    return
                }
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

extension Duration {
    /// In seconds, for arithmetic with `Date`.
    fileprivate var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
