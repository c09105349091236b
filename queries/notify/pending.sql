-- name: pending
-- finds: messages in the outbox not yet accepted by their server, oldest first.
-- params: none.
-- returns: outbox_id, message_key, channel, recipient, kind, subject, body, created_at,
--   attempts, next_attempt_at.

SELECT outbox_id, message_key, channel, recipient, kind, subject, body, created_at, attempts,
       next_attempt_at
FROM outbox WHERE status = 'pending'
ORDER BY outbox_id;
