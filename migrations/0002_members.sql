-- Members and their opt-in audit trail.
--
-- Names and phone numbers are stored only as Fernet tokens made by the service; the phone number's keyed blind
-- index (HMAC-SHA256 of its E.164 form, in hex) serves lookups and the one-live-member-per-number rule. The column
-- encryption_key_id names the fingerprint of the key that made the row's tokens, so re-encryption and
-- encryption.status need not decrypt anything to know what is left to do.

-- A timezone is valid when PostgreSQL knows it by its IANA name (not an abbreviation such as 'EST', nor a POSIX
-- offset such as 'UTC+5', which the server would also accept in AT TIME ZONE).
CREATE FUNCTION jules_is_iana_timezone(name text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE pg_timezone_names.name = $1) $$;

ALTER TABLE households
    ADD CONSTRAINT households_timezone_iana CHECK (jules_is_iana_timezone(timezone)),
    ADD CONSTRAINT households_name_printable CHECK (name !~ '[[:cntrl:]]');

CREATE TABLE members (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    household_id      uuid        NOT NULL REFERENCES households (id),
    name_ciphertext   text        CHECK (name_ciphertext ~ '^gAAAAA[A-Za-z0-9_=-]+$'
                                         AND char_length(name_ciphertext) <= 4096),
    phone_ciphertext  text        CHECK (phone_ciphertext ~ '^gAAAAA[A-Za-z0-9_=-]+$'
                                         AND char_length(phone_ciphertext) <= 1024),
    phone_blind_index text        NOT NULL CHECK (phone_blind_index ~ '^[0-9a-f]{64}$'),
    encryption_key_id text        CHECK (encryption_key_id ~ '^[0-9a-f]{16}$'),
    opt_in_state      text        NOT NULL DEFAULT 'pending'
                                  CHECK (opt_in_state IN ('pending', 'opted_in', 'opted_out')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    erased_at         timestamptz,
    CHECK (updated_at >= created_at),
    CHECK (deleted_at IS NULL OR deleted_at >= created_at),
    -- Erasure is final and complete: an erased member is deleted and has neither ciphertext nor key id left; a
    -- member that is not erased has both ciphertexts and the id of the key that made them.
    CHECK (erased_at IS NULL OR deleted_at IS NOT NULL),
    CHECK (
        (erased_at IS NULL AND name_ciphertext IS NOT NULL AND phone_ciphertext IS NOT NULL
            AND encryption_key_id IS NOT NULL)
        OR (erased_at IS NOT NULL AND name_ciphertext IS NULL AND phone_ciphertext IS NULL
            AND encryption_key_id IS NULL)
    )
);

-- One live member per phone number; a deleted member's number can be used again.
CREATE UNIQUE INDEX members_live_phone_idx ON members (phone_blind_index) WHERE deleted_at IS NULL;
CREATE INDEX members_household_idx ON members (household_id, created_at, id);
CREATE INDEX members_phone_idx ON members (phone_blind_index);
CREATE INDEX members_encryption_key_idx ON members (encryption_key_id) WHERE encryption_key_id IS NOT NULL;

-- Every change of a member's opt-in state, written by the trigger below and never changed afterwards. Rows are
-- keyed by the member and the blind index, so they outlive an erasure of the member's name and number.
CREATE TABLE opt_in_audit_log (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id         uuid        NOT NULL REFERENCES members (id),
    household_id      uuid        NOT NULL,
    phone_blind_index text        NOT NULL,
    old_state         text        CHECK (old_state IN ('pending', 'opted_in', 'opted_out')),
    new_state         text        NOT NULL CHECK (new_state IN ('pending', 'opted_in', 'opted_out')),
    source            text        NOT NULL CHECK (source IN ('api', 'sms_keyword', 'carrier', 'operator')),
    keyword           text        CHECK (char_length(keyword) BETWEEN 1 AND 32),
    message_sid       text        CHECK (message_sid ~ '^[A-Z]{2}[0-9a-f]{32}$'),
    correlation_id    text        CHECK (char_length(correlation_id) BETWEEN 1 AND 128),
    changed_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX opt_in_audit_log_member_idx ON opt_in_audit_log (member_id, id);
CREATE INDEX opt_in_audit_log_household_idx ON opt_in_audit_log (household_id, id);
CREATE INDEX opt_in_audit_log_phone_idx ON opt_in_audit_log (phone_blind_index, id);

-- The service says why a change happens in transaction-local settings (set_config(..., true)) of the statement
-- that makes it: jules.opt_in_source, jules.opt_in_keyword, jules.message_sid, jules.correlation_id. A change made
-- by hand in SQL, without them, is recorded with the source 'operator'.
CREATE FUNCTION members_record_opt_in_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO opt_in_audit_log
        (member_id, household_id, phone_blind_index, old_state, new_state, source, keyword, message_sid,
         correlation_id)
    VALUES (
        NEW.id,
        NEW.household_id,
        NEW.phone_blind_index,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.opt_in_state END,
        NEW.opt_in_state,
        coalesce(nullif(current_setting('jules.opt_in_source', true), ''), 'operator'),
        nullif(current_setting('jules.opt_in_keyword', true), ''),
        nullif(current_setting('jules.message_sid', true), ''),
        nullif(current_setting('jules.correlation_id', true), '')
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER members_opt_in_created
    AFTER INSERT ON members
    FOR EACH ROW EXECUTE FUNCTION members_record_opt_in_change();

CREATE TRIGGER members_opt_in_changed
    AFTER UPDATE OF opt_in_state ON members
    FOR EACH ROW WHEN (OLD.opt_in_state IS DISTINCT FROM NEW.opt_in_state)
    EXECUTE FUNCTION members_record_opt_in_change();

-- The audit log is append-only, for everyone who goes through SQL.
CREATE FUNCTION opt_in_audit_log_reject_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'opt_in_audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER opt_in_audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON opt_in_audit_log
    FOR EACH ROW EXECUTE FUNCTION opt_in_audit_log_reject_change();

CREATE TRIGGER opt_in_audit_log_no_truncate
    BEFORE TRUNCATE ON opt_in_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION opt_in_audit_log_reject_change();

-- Timestamps as the API shows them: RFC 3339 in UTC with microseconds.
CREATE FUNCTION jules_rfc3339(value timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
