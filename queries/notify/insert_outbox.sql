-- name: insert_outbox
-- finds: nothing; writes a rendered message to the outbox, pending, before any attempt
--   to send it.
-- params:
--   $message_key  VARCHAR
--   $channel      VARCHAR
--   $recipient    VARCHAR
--   $kind         VARCHAR
--   $digest_day  DATE       NULL unless a digest
--   $subject     VARCHAR
--   $body        BLOB
--   $now         TIMESTAMP
-- returns: outbox_id.

INSERT INTO outbox (message_key, channel, recipient, kind, digest_day, subject, body,
                    created_at, status, attempts)
VALUES ($message_key, $channel, $recipient, $kind, $digest_day, $subject, $body, $now,
        'pending', 0)
RETURNING outbox_id;
