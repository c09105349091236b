-- name: digest_exists
-- finds: whether a recipient's digest for a day was already written to the outbox.
-- params:
--   $channel    VARCHAR
--   $recipient  VARCHAR
--   $day        DATE
-- returns: found (BOOLEAN).

SELECT count(*) > 0 AS found FROM outbox
WHERE kind = 'digest' AND channel = $channel AND recipient = $recipient AND digest_day = $day;
