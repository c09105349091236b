-- name: set_notified
-- finds: nothing; records the tier and time of the latest notification about an alert.
-- params:
--   $alert_id           BIGINT
--   $notified_severity  VARCHAR
--   $last_notified_at   TIMESTAMP
-- returns: nothing.

UPDATE alerts SET notified_severity = $notified_severity, last_notified_at = $last_notified_at
WHERE alert_id = $alert_id;
