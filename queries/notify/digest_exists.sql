-- name: digest_exists
-- Finds: whether a recipient's digest for a day was already written to the outbox.
-- Parameters:
--   $channel VARCHAR, $recipient VARCHAR, $day DATE
-- Returns: found (BOOLEAN).

SELECT count(*) > 0 AS found FROM outbox
WHERE kind = 'digest' AND channel = $channel AND recipient = $recipient AND digest_day = $day;
