-- name: set_ack
-- finds: nothing; records who acknowledged an alert, when, and their note.
-- params:
--   $alert_id  BIGINT
--   $acked_by  VARCHAR
--   $acked_at  TIMESTAMP
--   $ack_note  VARCHAR    NULL allowed
-- returns: nothing.

UPDATE alerts SET acked_by = $acked_by, acked_at = $acked_at, ack_note = $ack_note
WHERE alert_id = $alert_id;
