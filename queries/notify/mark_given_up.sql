-- name: mark_given_up
-- finds: nothing; gives a message up for good (the server refused it permanently, or
--   it failed [notify] max_attempts times and is older than give_up_after), with why.
-- params:
--   $outbox_id  BIGINT
--   $error      VARCHAR
-- returns: nothing.

UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $error,
    next_attempt_at = NULL
WHERE outbox_id = $outbox_id AND status = 'pending';
