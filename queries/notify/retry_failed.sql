-- name: retry_failed
-- finds: the messages given up (status 'failed'), put back to pending with a fresh count
--   of attempts, once the operator fixed what refused them (`monitor alerts send
--   --retry-failed`).
-- params: none.
-- returns: outbox_id of each message put back.

UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL
WHERE status = 'failed'
RETURNING outbox_id;
