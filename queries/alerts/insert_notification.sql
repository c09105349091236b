-- name: insert_notification
-- finds: nothing; records a notification the lifecycle rules call for.
-- params:
--   $alert_id  BIGINT
--   $reason    VARCHAR  firing | escalation | reminder | resolved
--   $severity  VARCHAR
--   $exposure  DECIMAL
--   $now       TIMESTAMP
--   $scan_id   BIGINT     NULL allowed
-- returns: notification_id.

INSERT INTO notifications (alert_id, reason, severity, exposure, created_at, scan_id)
VALUES ($alert_id, $reason, $severity, $exposure, $now, $scan_id)
RETURNING notification_id;
