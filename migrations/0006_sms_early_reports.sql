-- Delivery reports that arrive before the sender has recorded their message's provider sid: the provider can call
-- back before its answer to the send is stored (or while PostgreSQL was briefly out of reach when it came). They are
-- kept here, applied when a message takes the sid, and dropped after a day if none does.
CREATE TABLE sms_early_reports (
    provider_sid  text        PRIMARY KEY CHECK (provider_sid ~ '^[A-Z]{2}[0-9a-f]{32}$'),
    status        text        NOT NULL CHECK (status IN ('delivered', 'failed', 'undelivered')),
    error_code    integer,
    error_message text        CHECK (char_length(error_message) <= 1024),
    received_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sms_early_reports_received_idx ON sms_early_reports (received_at);
