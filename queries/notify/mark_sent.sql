-- name: mark_sent
-- finds: nothing; marks a message sent once its server accepted it.
-- params:
--   $outbox_id  BIGINT
--   $now        TIMESTAMP
--   $sent_via   VARCHAR    smtp | file | webhook
-- returns: nothing.

UPDATE outbox SET status = 'sent', sent_at = $now, sent_via = $sent_via,
    attempts = attempts + 1, last_error = NULL, next_attempt_at = NULL
WHERE outbox_id = $outbox_id AND status = 'pending';
