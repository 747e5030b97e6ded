import Foundation
import JSONRPC
import Postgres

/// The SQL of the SMS queue: enqueueing, claiming with `FOR UPDATE SKIP LOCKED`, and recording what the provider
/// said.
///
/// Every change a sender makes to a row it claimed names its claim: the instance (`claimed_by`) and the token that
/// claim was given (`claim_token`), so a worker whose lease ran out cannot overwrite what a newer claim decided since,
/// even when the newer claim is its own instance's.
public struct SMSQueue: Sendable {
    let database: PostgresClient

    public init(database: PostgresClient) {
        self.database = database
    }

    // MARK: Enqueueing

    /// A message to put in the queue, checked and measured.
    struct NewMessage: Sendable {
        var id: UUID
        var memberID: UUID
        var body: String
        var priority: SMSPriority
        var encoding: SMSEncoding
        /// How long after the insert it may go, in milliseconds.
        var delayMilliseconds: Int64
    }

    /// Whether a member may be texted now, as far as enqueueing can tell.
    enum Recipient: Sendable, Equatable {
        case reachable
        /// Not opted in yet: replies only.
        case pending
        case optedOut
        case deleted
        case unknown
    }

    /// The state of each member named, in one query.
    func recipients(_ memberIDs: Set<UUID>) async throws(PostgresError) -> [UUID: Recipient] {
        guard !memberIDs.isEmpty else { return [:] }
        let rows = try await database.query(
            "SELECT id, deleted_at IS NOT NULL AS deleted, opt_in_state FROM members WHERE id = ANY($1::uuid[])",
            [Self.uuidArray(memberIDs)]
        )
        var found: [UUID: Recipient] = [:]
        for row in rows {
            let id: UUID = try row.decode("id")
            if try row.decode("deleted", as: Bool.self) {
                found[id] = .deleted
            } else if try row.decode("opt_in_state", as: String.self) == OptInState.optedOut.rawValue {
                found[id] = .optedOut
            } else if try row.decode("opt_in_state", as: String.self) == OptInState.pending.rawValue {
                found[id] = .pending
            } else {
                found[id] = .reachable
            }
        }
        return found.merging(memberIDs.filter { found[$0] == nil }.map { ($0, .unknown) }) { first, _ in first }
    }

    /// Inserts the messages (and their batch, if any) in one statement; each row takes its household from its
    /// member. A member deleted since ``recipients(_:)`` drops out here; one who opted out is caught at send time.
    /// Returns the ids inserted.
    func enqueue(
        _ messages: [NewMessage],
        batch: (id: UUID, entries: Int, spreadSeconds: Double?)?,
        correlationID: String
    ) async throws(PostgresError) -> Set<UUID> {
        guard !messages.isEmpty || batch != nil else { return [] }
        let records = JSONValue.array(
            messages.map { message in
                [
                    "id": .string(message.id.lowercasedText),
                    "member_id": .string(message.memberID.lowercasedText),
                    "body": .string(message.body),
                    "priority": JSONValue(message.priority.rank),
                    "segments": JSONValue(message.encoding.segments),
                    "encoding": .string(message.encoding.alphabet.rawValue),
                    "delay_ms": JSONValue(Int(message.delayMilliseconds)),
                ]
            }
        )
        let rows = try await database.query(
            """
            WITH batch AS (
                INSERT INTO sms_batches (id, entries, spread_seconds, correlation_id)
                SELECT $2::uuid, $3, $4, $5 WHERE $2::uuid IS NOT NULL
                RETURNING id
            ), input AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS input(
                    id uuid, member_id uuid, body text, priority smallint, segments integer, encoding text,
                    delay_ms bigint)
            )
            INSERT INTO sms_messages
                (id, batch_id, member_id, household_id, body, priority, segments, encoding, not_before,
                 correlation_id)
            SELECT input.id, (SELECT id FROM batch), input.member_id, members.household_id, input.body,
                   input.priority, input.segments, input.encoding,
                   statement_timestamp() + input.delay_ms * interval '1 millisecond', $5
            FROM input JOIN members ON members.id = input.member_id AND members.deleted_at IS NULL
            RETURNING id
            """,
            [
                .json(records.jsonString),
                batch.map { .uuid($0.id) } ?? .null,
                .int(Int64(batch?.entries ?? 0)),
                batch?.spreadSeconds.map { .double($0) } ?? .null,
                .text(correlationID),
            ]
        )
        var inserted = Set<UUID>()
        inserted.reserveCapacity(rows.count)
        for row in rows { inserted.insert(try row.decode("id")) }
        return inserted
    }

    // MARK: Claiming and sending

    /// One claim of a row: the instance that holds it and the token this claim was given. Every change made under a
    /// claim requires both, so once the row has been claimed again (by another instance, or by this one as an
    /// orphan after its lease ran out) the old claim changes nothing.
    struct Claim: Sendable, Equatable {
        var instance: String
        var token: UUID
    }

    /// A queued row this instance holds, waiting for its tokens.
    struct Claimed: Sendable {
        var id: UUID
        var claim: Claim
        var memberID: UUID
        var body: String
        var segments: Int
        var priority: SMSPriority
        var attempts: Int
        var correlationID: String?
        /// The fingerprint of the key that encrypted the member's number when the row was claimed, for a member that
        /// may be texted (`nil` otherwise, or if the row names no key): a sender without that key holds the message
        /// before it takes rate-limit tokens.
        var memberKeyID: String?
    }

    /// Quiet hours as PostgreSQL times (`HH:MM`); equal start and end mean none.
    struct QuietHours: Sendable, Equatable {
        var start: String
        var end: String

        static let off = QuietHours(start: "00:00", end: "00:00")
    }

    /// Why a message may not go to its member now (`member_deleted`, `opted_out`, `not_opted_in`), or NULL: over a
    /// row of `sms_messages` joined with its `members` row. One rule for the start, which ends such a message, and
    /// the claim, which only holds a message for a missing key when the start would not end it.
    private static let refusal = """
        CASE WHEN members.deleted_at IS NOT NULL THEN 'member_deleted'
             WHEN members.opt_in_state = 'opted_out' THEN 'opted_out'
             WHEN members.opt_in_state = 'pending' AND sms_messages.priority = 1 THEN 'not_opted_in'
             END
        """

    /// Claims up to `limit` ready messages, replies first, for `lease`. Bulk messages whose household is inside
    /// its quiet hours are not claimed but moved to the end of those hours.
    func claim(
        limit: Int,
        instance: String,
        lease: Duration,
        quietHours: QuietHours
    ) async throws(PostgresError) -> [Claimed] {
        let rows = try await database.query(
            """
            WITH ready AS (
                SELECT id FROM sms_messages
                WHERE status = 'queued' AND not_before <= now()
                  AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY priority, not_before, created_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            ), decided AS (
                SELECT ready.id,
                       CASE WHEN sms_messages.priority = 1
                            THEN jules_quiet_hours_end(households.timezone, $4::time, $5::time, now()) END AS quiet_end,
                       -- Only for a member `start` would not refuse: a refusal ends the message, waiting would not.
                       CASE WHEN (\(Self.refusal)) IS NULL AND members.phone_ciphertext IS NOT NULL
                            THEN members.encryption_key_id END AS member_key_id
                FROM ready
                JOIN sms_messages ON sms_messages.id = ready.id
                JOIN households ON households.id = sms_messages.household_id
                LEFT JOIN members ON members.id = sms_messages.member_id
            )
            UPDATE sms_messages SET
                claimed_by = CASE WHEN decided.quiet_end IS NULL THEN $2 END,
                claimed_until = CASE WHEN decided.quiet_end IS NULL THEN now() + $3 * interval '1 millisecond' END,
                claim_token = CASE WHEN decided.quiet_end IS NULL THEN gen_random_uuid() END,
                not_before = coalesce(decided.quiet_end, sms_messages.not_before),
                updated_at = now()
            FROM decided
            WHERE sms_messages.id = decided.id
            RETURNING sms_messages.id, member_id, body, segments, priority, attempts, correlation_id,
                      sms_messages.claim_token, decided.quiet_end IS NOT NULL AS deferred, not_before, created_at,
                      decided.member_key_id
            """,
            [
                .int(Int64(limit)), .text(instance), .int(lease.wholeMilliseconds), .text(quietHours.start),
                .text(quietHours.end),
            ]
        )
        var claimed: [(Claimed, PostgresTimestamp, PostgresTimestamp)] = []
        for row in rows where !(try row.decode("deferred", as: Bool.self)) {
            guard let priority = SMSPriority(rank: try row.decode("priority")) else { continue }
            let message = Claimed(
                id: try row.decode("id"),
                claim: Claim(instance: instance, token: try row.decode("claim_token")),
                memberID: try row.decode("member_id"),
                body: try row.decode("body"),
                segments: try row.decode("segments"),
                priority: priority,
                attempts: try row.decode("attempts"),
                correlationID: try row.decode("correlation_id"),
                memberKeyID: try row.decode("member_key_id")
            )
            claimed.append((message, try row.decode("not_before"), try row.decode("created_at")))
        }
        // RETURNING does not keep the claim's order.
        claimed.sort { ($0.0.priority.rank, $0.1, $0.2) < ($1.0.priority.rank, $1.1, $1.2) }
        return claimed.map(\.0)
    }

    /// Lets go of queued rows this instance claimed but did not start (on shutdown, or when the rate limit cannot
    /// be checked); rows claimed again since are left alone.
    func release(_ messages: some Collection<Claimed>) async throws(PostgresError) {
        guard let instance = messages.first?.claim.instance else { return }
        _ = try await database.query(
            """
            UPDATE sms_messages SET claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
            FROM unnest($1::uuid[], $2::uuid[]) AS held (id, token)
            WHERE sms_messages.id = held.id AND sms_messages.claim_token = held.token
              AND sms_messages.status = 'queued' AND sms_messages.claimed_by = $3
            """,
            [Self.uuidArray(messages.map(\.id)), Self.uuidArray(messages.map(\.claim.token)), .text(instance)]
        )
    }

    /// Puts a claimed row that was not started back in the queue until `delay` from now, with `failure`'s message
    /// as the reason it waits; its attempts are unchanged. Returns false if the claim had been superseded (the
    /// newer claim decides).
    func postpone(_ message: Claimed, delay: Duration, failure: ProviderFailure) async throws(PostgresError) -> Bool {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET
                not_before = now() + $4 * interval '1 millisecond', error_code = NULL, error_message = $5,
                claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND status = 'queued' AND claimed_by = $2 AND claim_token = $3::uuid
            RETURNING id
            """,
            [
                .uuid(message.id), .text(message.claim.instance), .uuid(message.claim.token),
                .int(delay.wholeMilliseconds), .text(failure.message.truncated(toScalars: 1024)),
            ]
        )
        return !rows.isEmpty
    }

    /// What happened when a claimed row was to be handed over.
    enum Start: Sendable, Equatable {
        /// Now `sending`: hand it to the provider. `phoneToken` is the member's encrypted number.
        /// `keyID`: the fingerprint of the key that made the token (`nil` if the row names none).
        case send(phoneToken: String, keyID: String?, attempt: Int)
        /// The member opted out or was deleted: the row is now `failed` with that reason.
        case refused(SMSFailureReason)
        /// A bulk message whose household's quiet hours began while it waited for its tokens: the row is queued
        /// again for the end of those hours, its attempts unchanged.
        case deferred
        /// The claim has been superseded (its lease ran out and the row was claimed again).
        case lost
    }

    /// Moves a claimed row to `sending` under the same claim, checking the member in the same statement: opted out
    /// or deleted members are not texted, whatever they were when the message was queued. Quiet hours are checked
    /// again too: a bulk message claimed just before its household's quiet hours can wait for its tokens past their
    /// start, and then goes back to the queue until they end.
    func start(
        _ id: UUID,
        claim: Claim,
        lease: Duration,
        quietHours: QuietHours
    ) async throws(PostgresError) -> Start {
        let rows = try await database.query(
            """
            WITH verdict AS (
                SELECT sms_messages.id,
                       \(Self.refusal) AS refusal,
                       CASE WHEN sms_messages.priority = 1
                            THEN jules_quiet_hours_end(households.timezone, $5::time, $6::time, now()) END AS quiet_end,
                       members.phone_ciphertext, members.encryption_key_id
                FROM sms_messages
                JOIN members ON members.id = sms_messages.member_id
                JOIN households ON households.id = sms_messages.household_id
                WHERE sms_messages.id = $1 AND sms_messages.status = 'queued' AND sms_messages.claimed_by = $2
                  AND sms_messages.claim_token = $4::uuid
                FOR UPDATE OF sms_messages
            ), decision AS (
                SELECT verdict.*, verdict.refusal IS NULL AND verdict.quiet_end IS NULL AS goes FROM verdict
            )
            UPDATE sms_messages SET
                status = CASE WHEN decision.refusal IS NOT NULL THEN 'failed'
                              WHEN decision.goes THEN 'sending' ELSE 'queued' END,
                error_reason = decision.refusal,
                error_code = CASE WHEN decision.refusal IS NULL THEN error_code END,
                error_message = CASE WHEN decision.refusal IS NULL THEN error_message END,
                attempts = attempts + CASE WHEN decision.goes THEN 1 ELSE 0 END,
                attempt_started_at = CASE WHEN decision.goes THEN clock_timestamp() ELSE attempt_started_at END,
                not_before = CASE WHEN decision.goes OR decision.refusal IS NOT NULL THEN not_before
                                  ELSE decision.quiet_end END,
                claimed_by = CASE WHEN decision.goes THEN $2 END,
                claimed_until = CASE WHEN decision.goes THEN now() + $3 * interval '1 millisecond' END,
                claim_token = CASE WHEN decision.goes THEN claim_token END,
                updated_at = now()
            FROM decision
            WHERE sms_messages.id = decision.id
            RETURNING decision.refusal, decision.goes, decision.phone_ciphertext, decision.encryption_key_id,
                      sms_messages.attempts
            """,
            [
                .uuid(id), .text(claim.instance), .int(lease.wholeMilliseconds), .uuid(claim.token),
                .text(quietHours.start), .text(quietHours.end),
            ]
        )
        guard let row = rows.first else { return .lost }
        if let refusal: String = try row.decode("refusal") {
            return .refused(SMSFailureReason(rawValue: refusal) ?? .optedOut)
        }
        guard try row.decode("goes", as: Bool.self) else { return .deferred }
        guard let token: String = try row.decode("phone_ciphertext") else { return .refused(.memberDeleted) }
        return .send(
            phoneToken: token, keyID: try row.decode("encryption_key_id"), attempt: try row.decode("attempts"))
    }

    /// What became of a provider's receipt.
    enum ReceiptRecord: Sendable, Equatable {
        /// Recorded under the claim it was sent under: the message is `sent`.
        case recorded
        /// The claim had been superseded, but the row had not ended: the receipt was recorded all the same and the
        /// newer claim ended with it. A receipt is a fact while the newer claim acts on a guess (a look-up that has
        /// not found the message yet, a retry queued because it was not found); dropping it would send the message
        /// again, or lose the sid its delivery reports name.
        case recordedOverNewerClaim
        /// The row already records this sid (a newer claim found the message at the provider, or this one recorded
        /// it before and did not hear back).
        case alreadyRecorded
        /// The row has ended otherwise since: with another sid (the message went twice), or failed. A late receipt
        /// never rewrites an ended row; it is not stored.
        case conflicting(status: SMSStatus?, sid: String?)
        /// No such row.
        case missing
    }

    /// Records the provider's receipt for a message sent under `claim`: the message is `sent`, and the row's claim
    /// ends. See ``ReceiptRecord`` for a receipt that comes after the claim was superseded.
    func markSent(
        _ id: UUID,
        claim: Claim,
        provider: String,
        receipt: ProviderReceipt
    ) async throws(PostgresError) -> ReceiptRecord {
        let rows = try await database.query(
            """
            WITH target AS (
                SELECT id, status, provider_sid, (claimed_by = $6 AND claim_token = $7::uuid) IS TRUE AS ours
                FROM sms_messages WHERE id = $1
                FOR UPDATE
            ), moved AS (
                UPDATE sms_messages SET
                    status = 'sent', provider = $2, provider_sid = $3, price = $4::numeric, price_unit = $5,
                    sent_at = coalesce(sent_at, now()), error_code = NULL, error_message = NULL,
                    claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
                FROM target
                WHERE sms_messages.id = target.id AND target.status IN ('sending', 'queued')
                RETURNING sms_messages.id
            )
            SELECT target.status, target.provider_sid, target.ours, EXISTS (SELECT 1 FROM moved) AS moved
            FROM target
            """,
            [
                .uuid(id), .text(provider), .text(receipt.sid),
                receipt.price.map { .text("\($0)") } ?? .null,
                receipt.priceUnit.map { .text($0) } ?? .null,
                .text(claim.instance), .uuid(claim.token),
            ]
        )
        guard let row = rows.first else { return .missing }
        if try row.decode("moved", as: Bool.self) {
            return try row.decode("ours", as: Bool.self) ? .recorded : .recordedOverNewerClaim
        }
        let sid: String? = try row.decode("provider_sid")
        if sid == receipt.sid { return .alreadyRecorded }
        return .conflicting(status: SMSStatus(rawValue: try row.decode("status")), sid: sid)
    }

    /// Puts a row back in the queue after a failure worth retrying, not before `delay`; or fails it for good with
    /// `max_attempts` when it has had `maximumAttempts`. An attempt that never reached the provider (its sender
    /// died and the provider has no trace of it) is not counted: `countsAsAttempt: false`. Returns the status it
    /// ended in (nil: the claim has been superseded, and nothing changed).
    func retry(
        _ id: UUID,
        claim: Claim,
        delay: Duration,
        maximumAttempts: Int,
        failure: ProviderFailure,
        countsAsAttempt: Bool = true
    ) async throws(PostgresError) -> SMSStatus? {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET
                status = CASE WHEN attempts - $7 >= $3 THEN 'failed' ELSE 'queued' END,
                error_reason = CASE WHEN attempts - $7 >= $3 THEN 'max_attempts' END,
                attempts = attempts - $7,
                error_code = $4, error_message = $5,
                not_before = CASE WHEN attempts - $7 >= $3 THEN not_before
                                  ELSE now() + $6 * interval '1 millisecond' END,
                claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_token = $8::uuid
            RETURNING status
            """,
            [
                .uuid(id), .text(claim.instance), .int(Int64(maximumAttempts)),
                failure.code.map { .int(Int64($0)) } ?? .null, .text(failure.message.truncated(toScalars: 1024)),
                .int(delay.wholeMilliseconds), .int(countsAsAttempt ? 0 : 1), .uuid(claim.token),
            ]
        )
        return try rows.first.flatMap { row throws(PostgresError) in SMSStatus(rawValue: try row.decode("status")) }
    }

    /// Fails a row for good: the provider refused it. Returns whether it did (false: the claim has been superseded,
    /// and nothing changed).
    func fail(
        _ id: UUID,
        claim: Claim,
        failure: ProviderFailure,
        reason: SMSFailureReason = .providerRejected
    ) async throws(PostgresError) -> Bool {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET
                status = 'failed', error_reason = $6, error_code = $3, error_message = $4,
                claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_token = $5::uuid
            RETURNING id
            """,
            [
                .uuid(id), .text(claim.instance), failure.code.map { .int(Int64($0)) } ?? .null,
                .text(failure.message.truncated(toScalars: 1024)), .uuid(claim.token), .text(reason.rawValue),
            ]
        )
        return !rows.isEmpty
    }

    // MARK: Messages whose fate is unknown

    /// Ends a message still `sending` under `claim` whose fate could not be settled with the provider: `failed`
    /// with reason `unknown_outcome`. Returns whether it did.
    func giveUp(_ id: UUID, claim: Claim, message: String) async throws(PostgresError) -> Bool {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET
                status = 'failed', error_reason = 'unknown_outcome', error_code = NULL, error_message = $3,
                claimed_by = NULL, claimed_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_token = $4::uuid
            RETURNING id
            """,
            [
                .uuid(id), .text(claim.instance),
                .text(PhoneNumberRedaction.redact(message.truncated(toScalars: 1024))), .uuid(claim.token),
            ]
        )
        return !rows.isEmpty
    }

    /// Keeps a row `sending` under `claim` for `duration` from now (its lease, or until its next look-up), so that
    /// no other instance adopts it meanwhile; or, with a short duration, so that whichever instance scans for
    /// orphans after that looks it up again. Returns whether it did (false: the claim has been superseded).
    func hold(_ id: UUID, claim: Claim, for duration: Duration) async throws(PostgresError) -> Bool {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET claimed_until = now() + $4 * interval '1 millisecond', updated_at = now()
            WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_token = $3::uuid
            RETURNING id
            """,
            [.uuid(id), .text(claim.instance), .uuid(claim.token), .int(duration.wholeMilliseconds)]
        )
        return !rows.isEmpty
    }

    /// A row handed to the provider by an instance that did not live to record the answer.
    struct Orphan: Sendable {
        var id: UUID
        var claim: Claim
        var memberID: UUID
        var body: String
        var segments: Int
        var attempts: Int
        var attemptStartedAt: Date
        var phoneToken: String?
        /// The key the member's number was encrypted with.
        var keyID: String?
        var correlationID: String?
    }

    /// Takes over up to `limit` rows left `sending` past their lease (or, at start-up, held by an earlier life of
    /// this instance).
    func adoptOrphans(
        limit: Int,
        instance: String,
        lease: Duration,
        includingOwnBefore startedAt: Date?
    ) async throws(PostgresError) -> [Orphan] {
        let rows = try await database.query(
            """
            UPDATE sms_messages SET claimed_by = $2, claimed_until = now() + $3 * interval '1 millisecond',
                claim_token = gen_random_uuid(), updated_at = now()
            FROM members
            WHERE members.id = sms_messages.member_id AND sms_messages.id IN (
                SELECT id FROM sms_messages
                WHERE status = 'sending'
                  AND (claimed_until < now()
                       OR (claimed_by = $2 AND $4::double precision IS NOT NULL
                           AND attempt_started_at < to_timestamp($4::double precision)))
                ORDER BY claimed_until
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            RETURNING sms_messages.id, sms_messages.claim_token, member_id, body, segments, attempts, correlation_id,
                      extract(epoch FROM attempt_started_at)::double precision AS started,
                      members.phone_ciphertext, members.encryption_key_id
            """,
            [
                .int(Int64(limit)), .text(instance), .int(lease.wholeMilliseconds),
                startedAt.map { .double($0.timeIntervalSince1970) } ?? .null,
            ]
        )
        return try rows.map { row throws(PostgresError) in
            Orphan(
                id: try row.decode("id"),
                claim: Claim(instance: instance, token: try row.decode("claim_token")),
                memberID: try row.decode("member_id"),
                body: try row.decode("body"),
                segments: try row.decode("segments"),
                attempts: try row.decode("attempts"),
                attemptStartedAt: Date(timeIntervalSince1970: try row.decode("started")),
                phoneToken: try row.decode("phone_ciphertext"),
                keyID: try row.decode("encryption_key_id"),
                correlationID: try row.decode("correlation_id")
            )
        }
    }

    /// Lets go at once of an adopted row left `sending` (its lease ends now), for another instance to adopt.
    func releaseAdoption(_ id: UUID, claim: Claim) async throws(PostgresError) {
        _ = try await database.query(
            """
            UPDATE sms_messages SET claimed_until = now(), updated_at = now()
            WHERE id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_token = $3
            """,
            [.uuid(id), .text(claim.instance), .uuid(claim.token)]
        )
    }

    /// The provider sids already matched to this member's messages, which a look-up must not match again.
    func knownSIDs(memberID: UUID, excluding id: UUID) async throws(PostgresError) -> Set<String> {
        let rows = try await database.query(
            """
            SELECT provider_sid FROM sms_messages
            WHERE member_id = $1 AND id <> $2 AND provider_sid IS NOT NULL
              AND created_at > now() - interval '3 days'
            """,
            [.uuid(memberID), .uuid(id)]
        )
        return Set(try rows.map { row throws(PostgresError) in try row.decode("provider_sid", as: String.self) })
    }

    /// Whether another row already holds this provider sid: a look-up that matched it matched another message
    /// (the same body to the same number, from a row older than ``knownSIDs(memberID:excluding:)`` looks at, or to
    /// a member since deleted and added again).
    func isRecorded(sid: String, onAnotherThan id: UUID) async throws(PostgresError) -> Bool {
        let rows = try await database.query(
            "SELECT 1 FROM sms_messages WHERE provider_sid = $1 AND id <> $2 LIMIT 1", [.text(sid), .uuid(id)])
        return !rows.isEmpty
    }

    // MARK: Reading

    /// Messages ready to go and being sent, and the wait of the oldest ready one, from the partial indexes.
    func backlog() async throws(PostgresError) -> (ready: Int, sending: Int, oldestReadySeconds: Double) {
        let rows = try await database.query(
            """
            SELECT
                (SELECT count(*) FROM sms_messages WHERE status = 'queued' AND not_before <= now()) AS ready,
                (SELECT count(*) FROM sms_messages WHERE status = 'sending') AS sending,
                (SELECT coalesce(extract(epoch FROM now() - min(not_before)), 0)::double precision
                   FROM sms_messages WHERE status = 'queued' AND not_before <= now()) AS oldest
            """)
        return (try rows[0].decode("ready"), try rows[0].decode("sending"), try rows[0].decode("oldest"))
    }

    func message(id: UUID) async throws(PostgresError) -> SMSMessageRecord? {
        let rows = try await database.query(
            "SELECT \(SMSMessageRecord.columns) FROM sms_messages WHERE id = $1", [.uuid(id)])
        return try rows.first.map { row throws(PostgresError) in try SMSMessageRecord(row: row) }
    }

    /// A batch's messages counted by status, and the entries it was given; `nil` when there is no such batch.
    func batchCounts(id: UUID) async throws(PostgresError) -> (entries: Int, counts: [SMSStatus: Int])? {
        let rows = try await database.query(
            """
            SELECT sms_batches.entries, counts.status, counts.n
            FROM sms_batches
            LEFT JOIN (SELECT status, count(*) AS n FROM sms_messages WHERE batch_id = $1 GROUP BY status) AS counts
                ON true
            WHERE sms_batches.id = $1
            """,
            [.uuid(id)]
        )
        guard let first = rows.first else { return nil }
        var counts: [SMSStatus: Int] = [:]
        for row in rows {
            if let status = (try row.decode("status", as: String?.self)).flatMap(SMSStatus.init(rawValue:)) {
                counts[status] = try row.decode("n")
            }
        }
        return (try first.decode("entries"), counts)
    }

    struct Totals: Sendable {
        var counts: [SMSStatus: Int]
        /// Messages that needed more than one attempt.
        var retried: Int
        /// Segments handed over in the last `window`, by every instance.
        var recentSegments: Int
        /// Seconds the oldest ready message has waited.
        var oldestReadyAge: Double?
    }

    func totals(window: Duration) async throws(PostgresError) -> Totals {
        let rows = try await database.query(
            """
            SELECT
                (SELECT coalesce(json_object_agg(status, n), '{}')::text
                   FROM (SELECT status, count(*) AS n FROM sms_messages GROUP BY status) AS s) AS counts,
                (SELECT count(*) FROM sms_messages WHERE attempts > 1) AS retried,
                (SELECT coalesce(sum(segments), 0) FROM sms_messages
                  WHERE sent_at > now() - $1 * interval '1 millisecond') AS recent,
                (SELECT extract(epoch FROM now() - min(not_before))::double precision FROM sms_messages
                  WHERE status = 'queued' AND not_before <= now()) AS oldest
            """,
            [.int(window.wholeMilliseconds)]
        )
        let row = rows[0]
        var counts: [SMSStatus: Int] = [:]
        let text: String = try row.decode("counts")
        if case .object(let object) = try? JSONParser.parse(text) {
            for (key, value) in object {
                if let status = SMSStatus(rawValue: key), case .number(let number) = value {
                    counts[status] = Int(number)
                }
            }
        }
        return Totals(
            counts: counts,
            retried: try row.decode("retried"),
            recentSegments: try row.decode("recent"),
            oldestReadyAge: try row.decode("oldest")
        )
    }

    /// A page of what the outbox provider kept, oldest first.
    func outbox(memberID: UUID?, after: UUID?, limit: Int) async throws(PostgresError) -> [OutboxEntry] {
        let rows = try await database.query(
            """
            SELECT id, member_id, body, segments, jules_rfc3339(sent_at) AS sent_at FROM sms_messages
            WHERE provider = 'outbox' AND sent_at IS NOT NULL
              AND ($1::uuid IS NULL OR member_id = $1::uuid)
              AND ($2::uuid IS NULL
                   OR (sent_at, id) > (SELECT sent_at, id FROM sms_messages WHERE id = $2::uuid))
            ORDER BY sent_at, id
            LIMIT $3
            """,
            [memberID.map { .uuid($0) } ?? .null, after.map { .uuid($0) } ?? .null, .int(Int64(limit))]
        )
        return try rows.map { row throws(PostgresError) in
            OutboxEntry(
                messageID: (try row.decode("id", as: UUID.self)).lowercasedText,
                memberID: (try row.decode("member_id", as: UUID.self)).lowercasedText,
                body: try row.decode("body"),
                segments: try row.decode("segments"),
                sentAt: try row.decode("sent_at")
            )
        }
    }

    // MARK: Delivery reports

    /// What a delivery report changed.
    struct Report: Sendable {
        var id: UUID
        var memberID: UUID
        var status: SMSStatus
        var changed: Bool
        var correlationID: String?
        /// The message's segments, for the counts by status.
        var segments: Int
    }

    /// Applies a delivery report to the message with this provider sid, only ever moving it forward
    /// (sent → delivered, undelivered or failed). `nil` when no message has the sid.
    func report(
        sid: String,
        status: SMSStatus,
        errorCode: Int?,
        errorMessage: String?
    ) async throws(PostgresError) -> Report? {
        let rows = try await database.query(
            """
            WITH target AS (
                SELECT id, status AS old_status FROM sms_messages WHERE provider_sid = $1 FOR UPDATE
            ), moved AS (
                UPDATE sms_messages SET
                    status = $2,
                    delivered_at = CASE WHEN $2 = 'delivered' THEN coalesce(delivered_at, now()) END,
                    error_reason = CASE WHEN $2 IN ('failed', 'undelivered') THEN 'undelivered' END,
                    error_code = CASE WHEN $2 IN ('failed', 'undelivered') THEN $3::integer ELSE error_code END,
                    error_message = CASE WHEN $2 IN ('failed', 'undelivered') THEN $4 ELSE error_message END,
                    updated_at = now()
                FROM target
                WHERE sms_messages.id = target.id
                  AND (CASE target.old_status WHEN 'sent' THEN 1 WHEN 'sending' THEN 0 WHEN 'queued' THEN 0 ELSE 2 END)
                      < (CASE $2 WHEN 'sent' THEN 1 ELSE 2 END)
                  AND $2 <> 'sent'
                RETURNING sms_messages.id
            )
            SELECT sms_messages.id, member_id, sms_messages.status, correlation_id, segments,
                   EXISTS (SELECT 1 FROM moved) AS changed
            FROM sms_messages JOIN target ON target.id = sms_messages.id
            """,
            [
                .text(sid), .text(status.rawValue), errorCode.map { .int(Int64($0)) } ?? .null,
                errorMessage.map { .text($0.truncated(toScalars: 1024)) } ?? .null,
            ]
        )
        guard let row = rows.first else { return nil }
        let changed: Bool = try row.decode("changed")
        let current = SMSStatus(rawValue: try row.decode("status")) ?? status
        return Report(
            id: try row.decode("id"),
            memberID: try row.decode("member_id"),
            status: changed ? status : current,
            changed: changed,
            correlationID: try row.decode("correlation_id"),
            segments: try row.decode("segments")
        )
    }

    /// Keeps a final delivery report for a sid no message has yet (the first one kept wins unless a later one is
    /// final and the kept one is not; all three kept statuses are final, so the first wins).
    func holdReport(
        sid: String,
        status: SMSStatus,
        errorCode: Int?,
        errorMessage: String?
    ) async throws(PostgresError) {
        _ = try await database.query(
            """
            INSERT INTO sms_early_reports (provider_sid, status, error_code, error_message)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (provider_sid) DO NOTHING
            """,
            [
                .text(sid), .text(status.rawValue), errorCode.map { .int(Int64($0)) } ?? .null,
                errorMessage.map { .text($0.truncated(toScalars: 1024)) } ?? .null,
            ]
        )
    }

    /// A report held for `sid`, taken out of the holding table.
    struct HeldReport: Sendable {
        var status: SMSStatus
        var errorCode: Int?
        var errorMessage: String?
    }

    func takeHeldReport(sid: String) async throws(PostgresError) -> HeldReport? {
        let rows = try await database.query(
            "DELETE FROM sms_early_reports WHERE provider_sid = $1 RETURNING status, error_code, error_message",
            [.text(sid)])
        guard let row = rows.first, let status = SMSStatus(rawValue: try row.decode("status")) else { return nil }
        return HeldReport(
            status: status, errorCode: try row.decode("error_code"), errorMessage: try row.decode("error_message"))
    }

    /// Drops held reports no message took within a day.
    func purgeHeldReports() async throws(PostgresError) {
        _ = try await database.query("DELETE FROM sms_early_reports WHERE received_at < now() - interval '1 day'")
    }

    /// A `uuid[]` parameter, in PostgreSQL's array text form.
    static func uuidArray(_ ids: some Sequence<UUID>) -> PostgresValue {
        .text("{" + ids.map(\.lowercasedText).joined(separator: ",") + "}")
    }

}

/// A message the outbox provider kept, as `sms.outbox` lists it.
struct OutboxEntry: Encodable, Sendable {
    var messageID: String
    var memberID: String
    var body: String
    var segments: Int
    var sentAt: String

    enum CodingKeys: String, CodingKey {
        case body, segments
        case messageID = "message_id"
        case memberID = "member_id"
        case sentAt = "sent_at"
    }
}

extension String {
    /// The first `count` Unicode scalars: the column's CHECK counts code points (`char_length`), not the
    /// grapheme clusters `prefix` would count.
    func truncated(toScalars count: Int) -> String {
        unicodeScalars.count <= count ? self : String(String.UnicodeScalarView(unicodeScalars.prefix(count)))
    }
}
