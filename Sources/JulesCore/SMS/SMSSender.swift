import Foundation
import JSONRPC
import Logging
import Metrics
import Postgres
import Redis
import ServiceLifecycle
import Synchronization

/// How the sender works: who it is, how long it holds rows, how it retries, and when it keeps quiet.
public struct SMSSenderConfiguration: Sendable {
    /// This instance's name in `claimed_by`; unique among the instances.
    public var instance: String
    /// How long a row stays this instance's without being touched; longer than a provider request may take, so a
    /// live instance never loses a row it is sending.
    public var lease: Duration
    /// Attempts per message, the first included.
    public var maximumAttempts: Int
    /// The first retry waits about this long, each further one twice as long, up to ``retryCap``.
    public var retryBase: Duration
    public var retryCap: Duration
    /// Local times (`HH:MM`) between which bulk messages wait; `nil` for none.
    public var quietHours: (start: String, end: String)?
    /// Provider requests in flight at once.
    public var maximumInFlight: Int
    /// How often an idle sender looks at the queue (it is also woken by messages queued here).
    public var pollInterval: Duration
    /// How often it looks for rows whose sender died.
    public var orphanScanInterval: Duration
    /// How long after its send a message whose fate is unknown may wait for the provider to say whether it took it;
    /// after that, a failed look-up ends it `failed` with reason `unknown_outcome` (it is not sent again).
    public var unknownOutcomeLimit: Duration
    /// How long after an attempt whose outcome is unknown the provider's message list is trusted to show the
    /// message if it was taken. Twilio's list can lag behind a message it has just created, so a look-up that does
    /// not find it before then proves nothing: the sender keeps looking (at doubling intervals, from a sixteenth of
    /// this) and sends the message again only after a look-up made once this much time has passed finds nothing.
    public var unknownOutcomeSettle: Duration

    public init(
        instance: String,
        lease: Duration = .seconds(60),
        maximumAttempts: Int = 3,
        retryBase: Duration = .seconds(1),
        retryCap: Duration = .seconds(60),
        quietHours: (start: String, end: String)? = ("21:00", "08:00"),
        maximumInFlight: Int = 32,
        pollInterval: Duration = .milliseconds(250),
        orphanScanInterval: Duration? = nil,
        unknownOutcomeLimit: Duration = .seconds(24 * 3600),
        unknownOutcomeSettle: Duration = .seconds(60)
    ) {
        self.instance = instance
        self.lease = lease
        self.maximumAttempts = maximumAttempts
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.quietHours = quietHours
        self.maximumInFlight = maximumInFlight
        self.pollInterval = pollInterval
        self.orphanScanInterval = orphanScanInterval ?? min(.seconds(5), lease / 2)
        self.unknownOutcomeLimit = unknownOutcomeLimit
        self.unknownOutcomeSettle = unknownOutcomeSettle
    }
}

/// Sends what the queue holds: claims ready rows (replies first), waits for their tokens, checks the member once
/// more, hands each to the provider and records the answer. Rows whose sender died are reconciled with the provider
/// before anything is sent again. On shutdown it stops claiming, lets go of rows it has not started, and waits for
/// the requests in flight.
public struct SMSSender: Service {
    let queue: SMSQueue
    let provider: any SMSProvider
    let limiter: SMSRateLimiter
    let cipher: PIICipher
    let configuration: SMSSenderConfiguration
    let wakeup: SMSWakeup
    let activity: SMSActivity
    let logger: Logger

    let metrics = SMSMetrics()
    /// Until when claiming waits after the provider refused the account.
    let accountPause = AccountPause()

    public init(
        queue: SMSQueue,
        provider: any SMSProvider,
        limiter: SMSRateLimiter,
        cipher: PIICipher,
        configuration: SMSSenderConfiguration,
        wakeup: SMSWakeup,
        activity: SMSActivity = SMSActivity(),
        logger: Logger
    ) {
        self.queue = queue
        self.provider = provider
        self.limiter = limiter
        self.cipher = cipher
        self.configuration = configuration
        self.wakeup = wakeup
        self.activity = activity
        self.logger = logger
    }

    /// Rows claimed at a time: what the slowest bucket lets go in about a quarter of a second. Claimed rows wait
    /// for their tokens in order, so a reply queued meanwhile waits behind at most that much bulk.
    private var claimSize: Int {
        let rate = limiter.buckets.map(\.rate).min() ?? 1
        return max(1, min(16, Int(rate / 4)))
    }

    private var quietHours: SMSQueue.QuietHours {
        configuration.quietHours.map { SMSQueue.QuietHours(start: $0.start, end: $0.end) } ?? .off
    }

    public func run() async throws {
        let stopping = StopFlag()
        let inFlight = InFlightCount()
        let startedAt = Date()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var lastOrphanScan = ContinuousClock.now - .seconds(3600)
                var firstScan = true
                while !stopping.isSet, !Task.isCancelled {
                    if ContinuousClock.now - lastOrphanScan >= configuration.orphanScanInterval {
                        lastOrphanScan = .now
                        await housekeeping()
                        await reconcileOrphans(includingOwnBefore: firstScan ? startedAt : nil)
                        firstScan = false
                    }
                    if let remaining = accountPause.remaining {
                        // Every message would be refused alike: none is claimed until the pause ends.
                        await wakeup.wait(upTo: min(remaining, configuration.pollInterval))
                        continue
                    }
                    let capacity = configuration.maximumInFlight - inFlight.value
                    guard capacity > 0 else {
                        await wakeup.wait(upTo: configuration.pollInterval)
                        continue
                    }
                    let claimed: [SMSQueue.Claimed]
                    do {
                        claimed = try await queue.claim(
                            limit: min(capacity, claimSize),
                            instance: configuration.instance,
                            lease: configuration.lease,
                            quietHours: quietHours
                        )
                    } catch {
                        logger.warning("the SMS queue could not be read", metadata: ["error": "\(error)"])
                        await wakeup.wait(upTo: .seconds(1))
                        continue
                    }
                    guard !claimed.isEmpty else {
                        await wakeup.wait(upTo: configuration.pollInterval)
                        continue
                    }
                    var next = 0
                    while next < claimed.count, !stopping.isSet {
                        let message = claimed[next]
                        // The request's correlation id follows its message into the sender's logs.
                        let correlationID = message.correlationID ?? CorrelationID.generate()
                        if let keyID = message.memberKeyID,
                            Member.Unreadable.Reason(keyID: keyID, cipher: cipher) == .keyNotConfigured
                        {
                            // Held before it takes any tokens: messages this instance cannot address must not use
                            // up the rate limit of those it can.
                            next += 1
                            await CorrelationID.withValue(correlationID) {
                                await waitForKey(message, keyID: keyID, started: false)
                            }
                            continue
                        }
                        do {
                            try await limiter.acquire(cost: message.segments)
                            activity.limiter(reachable: true)
                        } catch {
                            activity.limiter(reachable: false)
                            logger.warning(
                                "the SMS rate limit could not be checked in Redis; sending waits",
                                metadata: ["error": "\(error)"])
                            try? await Task.sleep(for: .seconds(1))
                            break
                        }
                        next += 1
                        let started = await CorrelationID.withValue(correlationID) { await start(message) }
                        guard let token = started else { continue }
                        inFlight.add(1)
                        group.addTask {
                            await CorrelationID.withValue(correlationID) {
                                await deliver(
                                    message, phoneToken: token.phoneToken, keyID: token.keyID, attempt: token.attempt,
                                    stopping: stopping)
                            }
                            inFlight.add(-1)
                            wakeup.signal()
                        }
                    }
                    if next < claimed.count {
                        try? await queue.release(claimed[next...])
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.set()
            wakeup.signal()
        }
        await provider.shutdown()
        logger.debug("SMS sender stopped")
    }

    // MARK: One message

    /// Moves a claimed row to `sending` (or fails it for an opted-out or deleted member).
    private func start(_ message: SMSQueue.Claimed) async -> (phoneToken: String, keyID: String?, attempt: Int)? {
        do {
            let started = try await queue.start(
                message.id, claim: message.claim, lease: configuration.lease, quietHours: quietHours)
            switch started {
            case .send(let token, let keyID, let attempt):
                return (token, keyID, attempt)
            case .deferred:
                logger.info(
                    "SMS not started: its household's quiet hours began while it waited for the rate limit",
                    metadata: ["message_id": "\(message.id.lowercasedText)"])
                return nil
            case .refused(let reason):
                metrics.finished(.failed, segments: message.segments)
                logger.info(
                    "SMS not sent: the member may not be texted",
                    metadata: ["message_id": "\(message.id.lowercasedText)", "reason": "\(reason.rawValue)"])
                return nil
            case .lost:
                metrics.claimLost("start")
                logger.info(
                    "SMS not started: its claim was superseded while it waited for the rate limit",
                    metadata: ["message_id": "\(message.id.lowercasedText)"])
                return nil
            }
        } catch {
            logger.warning(
                "an SMS could not be started",
                metadata: ["message_id": "\(message.id.lowercasedText)", "error": "\(error)"])
            return nil
        }
    }

    /// Hands one message to the provider and records what happened.
    private func deliver(
        _ message: SMSQueue.Claimed,
        phoneToken: String,
        keyID: String?,
        attempt: Int,
        stopping: StopFlag
    ) async {
        let to: String
        do {
            to = try cipher.open(phoneToken)
        } catch {
            await recipientUnreadable(message, keyID: keyID, error: error)
            return
        }
        let attemptStarted = Date()
        let clock = ContinuousClock()
        let began = clock.now
        do {
            let receipt = try await provider.send(OutgoingSMS(messageID: message.id, to: to, body: message.body))
            metrics.sendLatency.recordNanoseconds((clock.now - began).wholeNanoseconds)
            activity.providerAnswered()
            await recordSent(
                message.id, claim: message.claim, segments: message.segments, receipt: receipt, attempt: attempt)
        } catch {
            metrics.sendLatency.recordNanoseconds((clock.now - began).wholeNanoseconds)
            if case .permanent = error.kind {
                // The provider answered: it is working, it refused this one message.
                activity.providerAnswered()
            } else {
                activity.providerFailed(code: error.code)
            }
            if case .unknownFate = error.kind {
                // The request may have gone through: look before sending it again.
                await reconcile(
                    id: message.id, claim: message.claim, memberID: message.memberID, to: to, body: message.body,
                    since: attemptStarted, segments: message.segments, attempt: attempt, failure: error,
                    stopping: stopping)
                return
            }
            await record(message, attempt: attempt, failure: error)
        }
    }

    /// Records the provider's receipt; keeps trying for a while if PostgreSQL is unreachable (until then the row
    /// stays `sending`, and a later reconciliation finds the message at the provider).
    ///
    /// A receipt is recorded even when this worker's claim of the row has been superseded, as long as the row has
    /// not ended: the message went, and the newer claim only acts on a guess (see ``SMSQueue/ReceiptRecord``).
    /// When the row has ended with another sid, the message went twice: that is logged with both sids (never the
    /// number) and counted, and the row keeps what it has.
    func recordSent(_ id: UUID, claim: SMSQueue.Claim, segments: Int, receipt: ProviderReceipt, attempt: Int)
        async
    {
        let metadata: Logger.Metadata = [
            "message_id": "\(id.lowercasedText)", "attempt": "\(attempt)", "sid": "\(receipt.sid)",
        ]
        for wait in [0, 100, 500, 2000] {
            if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
            let recorded: SMSQueue.ReceiptRecord
            do {
                recorded = try await queue.markSent(id, claim: claim, provider: provider.name, receipt: receipt)
            } catch {
                logger.warning(
                    "a sent SMS could not be recorded yet", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                continue
            }
            switch recorded {
            case .recorded, .recordedOverNewerClaim:
                if recorded == .recordedOverNewerClaim {
                    metrics.claimLost("sent")
                    logger.notice(
                        "an SMS receipt came after this sender's claim of the row was superseded; recorded all the same",
                        metadata: metadata)
                }
                metrics.finished(.sent, segments: segments)
                await applyHeldReport(sid: receipt.sid)
                if let price = receipt.price, let unit = receipt.priceUnit {
                    metrics.recordPrice(price, unit: unit)
                }
                logger.debug("SMS sent", metadata: metadata)
            case .alreadyRecorded:
                logger.debug("SMS receipt already recorded", metadata: metadata)
            case .conflicting(let status, let sid):
                metrics.claimLost("sent")
                if sid != nil { metrics.duplicateSends.increment() }
                logger.error(
                    sid == nil
                        ? "an SMS receipt came after its row had ended; the receipt is not stored"
                        : "an SMS went to the provider twice: its row records another sid; this receipt is not stored",
                    metadata: metadata.merging([
                        "status": "\(status?.rawValue ?? "unknown")", "recorded_sid": "\(sid ?? "none")",
                    ]) { $1 })
            case .missing:
                logger.error("an SMS receipt names a message that no longer exists", metadata: metadata)
            }
            return
        }
    }

    /// Applies a delivery report that came before the sid was recorded (if it fails, the report stays held and is
    /// dropped after a day; the message keeps `sent`).
    private func applyHeldReport(sid: String) async {
        do {
            try await SMSDeliveryReports(queue: queue).applyHeld(
                sid: sid, correlationID: CorrelationID.current ?? CorrelationID.generate(), logger: logger)
        } catch {
            logger.warning(
                "a held delivery report could not be applied", metadata: ["sid": "\(sid)", "error": "\(error)"])
        }
    }

    /// Records a failure: permanent ones end the message (a 21610 also opts the member out), the others put it
    /// back in the queue after a backoff. If this worker's claim of the row has been superseded, the row is left to
    /// its new holder (the failure is logged and counted); a 21610 still opts the member out, since it says
    /// something about the member, not the row.
    private func record(_ message: SMSQueue.Claimed, attempt: Int, failure: ProviderFailure) async {
        let metadata: Logger.Metadata = [
            "message_id": "\(message.id.lowercasedText)", "attempt": "\(attempt)",
            "provider_code": "\(failure.code.map(String.init) ?? "none")",
            "http_status": "\(failure.httpStatus.map(String.init) ?? "none")", "error": "\(failure.message)",
        ]
        do {
            switch failure.kind {
            case .permanent:
                if try await queue.fail(message.id, claim: message.claim, failure: failure) {
                    metrics.finished(.failed, segments: message.segments)
                    logger.notice("SMS refused by the provider", metadata: metadata)
                } else {
                    claimLost("fail", id: message.id, metadata: metadata)
                }
                if failure.isUnsubscribed { await optOut(message.memberID, correlationID: message.correlationID) }
            case .accountRefused:
                // Not this message's fault: it waits, without using up an attempt, and so does sending.
                accountPause.pause(for: configuration.retryCap)
                let status = try await queue.retry(
                    message.id, claim: message.claim, delay: configuration.retryCap,
                    maximumAttempts: configuration.maximumAttempts, failure: failure, countsAsAttempt: false)
                if status == nil {
                    claimLost("retry", id: message.id, metadata: metadata)
                } else {
                    logger.error(
                        "the SMS provider refused the account (check its credentials); sending pauses and the message waits",
                        metadata: metadata.merging(["retry_in_ms": "\(configuration.retryCap.wholeMilliseconds)"]) {
                            $1
                        })
                }
            case .retryable, .unknownFate:
                var delay = backoff(attempt: attempt)
                if case .retryable(let retryAfter?) = failure.kind { delay = max(delay, retryAfter) }
                let status = try await queue.retry(
                    message.id, claim: message.claim, delay: delay,
                    maximumAttempts: configuration.maximumAttempts, failure: failure, countsAsAttempt: true)
                if status == .failed {
                    metrics.finished(.failed, segments: message.segments)
                    logger.notice("SMS failed after its last attempt", metadata: metadata)
                } else if status == .queued {
                    metrics.retries.increment()
                    logger.info(
                        "SMS will be retried",
                        metadata: metadata.merging(["retry_in_ms": "\(delay.wholeMilliseconds)"]) { $1 })
                } else if status == nil {
                    claimLost("retry", id: message.id, metadata: metadata)
                }
            }
        } catch {
            logger.warning(
                "an SMS failure could not be recorded; the row is reconciled after its lease",
                metadata: metadata.merging(["record_error": "\(error)"]) { $1 })
        }
    }

    /// A message whose member's number does not decrypt. Made with a key this instance does not have, it waits
    /// (``waitForKey(_:keyID:started:error:)``). Made with a key it has, the token is damaged: the message fails for
    /// good, with a reason of its own (the provider never saw it). Either way the log names the key, never the
    /// number.
    private func recipientUnreadable(_ message: SMSQueue.Claimed, keyID: String?, error: StoredDataError) async {
        let reason = Member.Unreadable.Reason(keyID: keyID, cipher: cipher)
        if reason == .keyNotConfigured, let keyID {
            // The member's number was re-encrypted under a key this instance lacks after the message was claimed.
            await waitForKey(message, keyID: keyID, started: true, error: error)
            return
        }
        let metadata: Logger.Metadata = [
            "message_id": "\(message.id.lowercasedText)", "key_id": "\(keyID ?? "none")", "error": "\(error)",
        ]
        metrics.recipientUnreadable(reason)
        do {
            let failure = ProviderFailure(
                kind: .permanent, message: "the member's number cannot be decrypted with the key that made it")
            if try await queue.fail(message.id, claim: message.claim, failure: failure, reason: .recipientUndecryptable)
            {
                metrics.finished(.failed, segments: message.segments)
                logger.error("SMS not sent: the member's stored number is damaged", metadata: metadata)
            } else {
                claimLost("fail", id: message.id, metadata: metadata)
            }
        } catch {
            logger.warning(
                "an SMS whose number cannot be decrypted could not be recorded; the row is reconciled after its lease",
                metadata: metadata.merging(["record_error": "\(error)"]) { $1 })
        }
    }

    /// A message to a member whose number was encrypted with a key this instance does not have (a key rotated out
    /// too early, or an instance started without it). The number is not lost: the message waits, queued, without
    /// using up an attempt, and goes once the key is configured again (looked at again after the longest retry
    /// delay each time). Seen before the message was started (`started` false: the usual case, from the key the
    /// claim read), it has taken no rate-limit tokens and made no attempt.
    private func waitForKey(
        _ message: SMSQueue.Claimed,
        keyID: String,
        started: Bool,
        error: StoredDataError? = nil
    ) async {
        var metadata: Logger.Metadata = ["message_id": "\(message.id.lowercasedText)", "key_id": "\(keyID)"]
        if let error { metadata["error"] = "\(error)" }
        metrics.recipientUnreadable(.keyNotConfigured)
        let delay = configuration.retryCap
        let failure = ProviderFailure(
            kind: .retryable(retryAfter: nil),
            message: "the member's number was encrypted with key \(keyID), which is not configured; "
                + "the message waits until it is")
        do {
            let held: Bool
            if started {
                held =
                    try await queue.retry(
                        message.id, claim: message.claim, delay: delay, maximumAttempts: configuration.maximumAttempts,
                        failure: failure, countsAsAttempt: false) != nil
            } else {
                held = try await queue.postpone(message, delay: delay, failure: failure)
            }
            if held {
                metadata["retry_in_ms"] = "\(delay.wholeMilliseconds)"
                logger.error(
                    "SMS waits: the member's number was encrypted with a key that is not configured",
                    metadata: metadata)
            } else {
                claimLost("hold", id: message.id, metadata: metadata)
            }
        } catch {
            logger.warning(
                "an SMS waiting for its key could not be recorded; the row is reconciled after its lease",
                metadata: metadata.merging(["record_error": "\(error)"]) { $1 })
        }
    }

    /// A change to a row that was not made because this worker's claim of it had been superseded: the newer claim
    /// decides. Logged (the message id, never the number) and counted.
    func claimLost(_ transition: String, id: UUID, metadata: Logger.Metadata = [:]) {
        metrics.claimLost(transition)
        logger.notice(
            "an SMS row was claimed again before this sender could record its outcome; left to the newer claim",
            metadata: metadata.merging(["message_id": "\(id.lowercasedText)", "transition": "\(transition)"]) {
                $1
            })
    }

    /// Updates the queue-depth gauges and drops delivery reports held too long.
    private func housekeeping() async {
        try? await queue.purgeHeldReports()
        if let backlog = try? await queue.backlog() {
            metrics.readyDepth.record(backlog.ready)
            metrics.sendingDepth.record(backlog.sending)
        }
    }

    /// The provider says the member unsubscribed (21610): they are opted out, with the carrier as the source.
    private func optOut(_ memberID: UUID, correlationID: String?) async {
        do {
            try await SMSDeliveryReports(queue: queue).carrierOptOut(
                memberID, messageSID: nil, correlationID: correlationID ?? "", logger: logger)
        } catch {
            logger.error(
                "a carrier opt-out could not be recorded",
                metadata: ["member_id": "\(memberID.lowercasedText)", "error": "\(error)"])
        }
    }

    /// Exponential backoff with jitter: half of `base × 2^(attempt−1)` (capped) fixed, the other half random.
    func backoff(attempt: Int) -> Duration {
        let base = Double(configuration.retryBase.wholeMilliseconds)
        let cap = Double(configuration.retryCap.wholeMilliseconds)
        let ceiling = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        let milliseconds = ceiling / 2 + Double.random(in: 0...(ceiling / 2))
        return .milliseconds(Int64(milliseconds.rounded()))
    }

}

/// Provider requests in flight, shared by the sender's loop and its request tasks.
final class InFlightCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func add(_ delta: Int) { count.add(delta, ordering: .releasing) }
}

/// Wakes the sender when a message is queued here or a request in flight ends, so it need not wait for its next
/// poll. One waiter at a time (the sender's loop); a signal with no waiter is kept for the next wait.
public final class SMSWakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The waiter was cancelled before it stored its continuation.
        var cancelled = false
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once if one is pending), or after `timeout`.
    public func wait(upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.next() }
            await group.next()
            group.cancelAll()
        }
    }

    private func next() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending || state.cancelled {
                        state.pending = false
                        state.cancelled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter
                }
                state.cancelled = true
                return nil
            }
            waiter?.resume()
        }
    }
}

/// A pause of the sender's claims, set when the provider refuses the account.
final class AccountPause: Sendable {
    private let until = Mutex<ContinuousClock.Instant?>(nil)

    /// How long the pause still lasts; `nil` when there is none.
    var remaining: Duration? {
        until.withLock { until in
            guard let end = until else { return nil }
            let left = ContinuousClock.now.duration(to: end)
            if left <= .zero {
                until = nil
                return nil
            }
            return left
        }
    }

    func pause(for duration: Duration) {
        let end = ContinuousClock.now + duration
        until.withLock { until in until = max(until ?? end, end) }
    }
}
