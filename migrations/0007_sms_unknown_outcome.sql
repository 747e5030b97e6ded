-- A message whose fate the provider could not be asked about for a day (every look-up failed: a key without
-- access to the message list, an outage) ends failed with reason unknown_outcome, rather than staying 'sending'
-- and being looked up by every instance forever.
ALTER TABLE sms_messages DROP CONSTRAINT sms_messages_error_reason_check;
ALTER TABLE sms_messages ADD CONSTRAINT sms_messages_error_reason_check CHECK (error_reason IN
    ('opted_out', 'not_opted_in', 'member_deleted', 'provider_rejected', 'max_attempts', 'undelivered',
     'unknown_outcome'));
