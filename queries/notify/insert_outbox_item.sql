-- name: insert_outbox_item
-- finds: nothing; records that a message carries a notification.
-- params:
--   $outbox_id        BIGINT
--   $notification_id  BIGINT
-- returns: nothing.

INSERT INTO outbox_items VALUES ($outbox_id, $notification_id);
