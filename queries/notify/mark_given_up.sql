-- name: mark_given_up
-- Finds: nothing; gives a message up for good (the server refused it permanently, or
--   it failed [notify] max_attempts times and is older than give_up_after), with why.
-- Parameters:
--   $outbox_id BIGINT, $error VARCHAR
-- Returns: nothing.

UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $error,
    next_attempt_at = NULL
WHERE outbox_id = $outbox_id AND status = 'pending';
