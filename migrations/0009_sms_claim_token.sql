-- Every claim of an SMS row gets a token of its own, and every change a sender makes to the row under that claim
-- (starting the send, a retry, a failure, giving up) requires the token as well as the instance's name in claimed_by.
-- claimed_by alone cannot tell two claims of one instance apart: an instance whose lease ran out while it was still
-- waiting for the provider can take the row again itself (as an orphan), and its first, late answer must then not
-- overwrite what the second claim decided. (The provider's receipt is recorded even then, unless the row has ended:
-- the message went.)
--
-- It is not tied to claimed_by by a CHECK, so that instances of the previous version keep working during a rolling
-- upgrade: they never set it, and a token they leave behind is replaced at the next claim; since the new transitions
-- also require claimed_by, an old instance's claim is never mistaken for a new one's.
ALTER TABLE sms_messages ADD COLUMN claim_token uuid;

UPDATE sms_messages SET claim_token = gen_random_uuid() WHERE claimed_by IS NOT NULL;
