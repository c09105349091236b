-- name: mark_failed
-- finds: nothing; records a failed attempt and when to try again.
-- params:
--   $outbox_id        BIGINT
--   $error            VARCHAR
--   $next_attempt_at  TIMESTAMP
-- returns: nothing.

UPDATE outbox SET attempts = attempts + 1, last_error = $error,
    next_attempt_at = $next_attempt_at
WHERE outbox_id = $outbox_id AND status = 'pending';
