-- name: insert_outbox_item
-- Finds: nothing; records that a message carries a notification.
-- Parameters:
--   $outbox_id BIGINT, $notification_id BIGINT
-- Returns: nothing.

INSERT INTO outbox_items VALUES ($outbox_id, $notification_id);
