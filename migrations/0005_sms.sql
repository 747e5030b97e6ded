-- The SMS queue: one row per message, claimed by sender workers with FOR UPDATE SKIP LOCKED.
--
-- A message goes queued -> sending -> sent -> delivered, or ends failed or undelivered. A row in `sending` has
-- been (or is about to be) handed to the provider by the instance named in claimed_by; if that instance dies, the
-- row's lease runs out and another instance asks the provider whether the message went out before sending it
-- again. Messages name a member, never a number: the number is decrypted from the member's row at send time, after
-- the member's opt-in state has been checked in the same statement that moves the row to `sending` (opted-out and
-- deleted members get nothing; members who have not opted in yet get replies only).

CREATE TABLE sms_batches (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Entries the caller gave, rejected ones included.
    entries         integer     NOT NULL CHECK (entries >= 0),
    spread_seconds  double precision CHECK (spread_seconds >= 0),
    correlation_id  text        CHECK (char_length(correlation_id) BETWEEN 1 AND 128),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sms_messages (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id        uuid        REFERENCES sms_batches (id),
    member_id       uuid        NOT NULL REFERENCES members (id),
    household_id    uuid        NOT NULL REFERENCES households (id),
    body            text        NOT NULL CHECK (char_length(body) BETWEEN 1 AND 1600),
    -- 0 for replies, 1 for bulk: replies are claimed first.
    priority        smallint    NOT NULL CHECK (priority IN (0, 1)),
    segments        integer     NOT NULL CHECK (segments BETWEEN 1 AND 100),
    encoding        text        NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    status          text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'undelivered')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Not sent before this instant: the batch's spread, a retry's backoff, the end of quiet hours.
    not_before      timestamptz NOT NULL DEFAULT now(),
    -- Who holds the row and until when: a queued row waiting for its tokens, or a row being sent.
    claimed_by      text        CHECK (char_length(claimed_by) BETWEEN 1 AND 256),
    claimed_until   timestamptz,
    -- When the latest attempt was handed to the provider; reconciliation looks for messages from then on.
    attempt_started_at timestamptz,
    provider        text        CHECK (provider IN ('twilio', 'outbox')),
    provider_sid    text        UNIQUE CHECK (provider_sid ~ '^[A-Z]{2}[0-9a-f]{32}$'),
    error_reason    text        CHECK (error_reason IN
                                    ('opted_out', 'not_opted_in', 'member_deleted', 'provider_rejected', 'max_attempts',
                                     'undelivered')),
    error_code      integer,
    error_message   text        CHECK (char_length(error_message) <= 1024),
    price           numeric,
    price_unit      text        CHECK (price_unit ~ '^[A-Z]{3}$'),
    correlation_id  text        CHECK (char_length(correlation_id) BETWEEN 1 AND 128),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    delivered_at    timestamptz,
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL)),
    CHECK (status <> 'sending' OR (claimed_by IS NOT NULL AND attempt_started_at IS NOT NULL)),
    CHECK (status NOT IN ('sent', 'delivered') OR provider IS NOT NULL),
    CHECK ((status IN ('failed', 'undelivered')) = (error_reason IS NOT NULL))
);

-- What the workers claim: ready rows, replies first, oldest first.
CREATE INDEX sms_messages_queued_idx ON sms_messages (priority, not_before, created_at) WHERE status = 'queued';
-- Rows in flight, for finding those whose sender died.
CREATE INDEX sms_messages_sending_idx ON sms_messages (claimed_until) WHERE status = 'sending';
CREATE INDEX sms_messages_batch_idx ON sms_messages (batch_id, status) WHERE batch_id IS NOT NULL;
CREATE INDEX sms_messages_member_idx ON sms_messages (member_id, created_at);
CREATE INDEX sms_messages_sent_at_idx ON sms_messages (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX sms_messages_outbox_idx ON sms_messages (sent_at, id) WHERE provider = 'outbox';

-- The end of the quiet hours that `at` falls in, in the time zone `tz`; NULL when `at` is outside them. The quiet
-- hours run from `quiet_start` to `quiet_end` local time, across midnight when start > end; start = end means none.
CREATE FUNCTION jules_quiet_hours_end(tz text, quiet_start time, quiet_end time, at timestamptz)
    RETURNS timestamptz
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
    AS $$
DECLARE
    local_at timestamp := at AT TIME ZONE tz;
    local_time time := local_at::time;
BEGIN
    IF quiet_start = quiet_end THEN
        RETURN NULL;
    ELSIF quiet_start < quiet_end THEN
        IF local_time >= quiet_start AND local_time < quiet_end THEN
            RETURN (local_at::date + quiet_end) AT TIME ZONE tz;
        END IF;
    ELSIF local_time >= quiet_start THEN
        RETURN (local_at::date + 1 + quiet_end) AT TIME ZONE tz;
    ELSIF local_time < quiet_end THEN
        RETURN (local_at::date + quiet_end) AT TIME ZONE tz;
    END IF;
    RETURN NULL;
END
$$;
