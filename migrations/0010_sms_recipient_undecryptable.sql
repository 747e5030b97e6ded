-- A message whose member's number cannot be decrypted although the key that made it is configured (the token is
-- damaged) ends failed with reason recipient_undecryptable: the provider never saw it. (A number made with a key
-- that is not configured is not a failure: the message waits, queued, until the key is configured again.)
ALTER TABLE sms_messages DROP CONSTRAINT sms_messages_error_reason_check;
ALTER TABLE sms_messages ADD CONSTRAINT sms_messages_error_reason_check CHECK (error_reason IN
    ('opted_out', 'not_opted_in', 'member_deleted', 'provider_rejected', 'max_attempts', 'undelivered',
     'unknown_outcome', 'recipient_undecryptable'));
