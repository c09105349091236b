-- name: notification_alerts
-- finds: notifications with the alert each is about, for rendering.
-- params:
--   $ids  BIGINT[]  notification ids
-- returns: notification_id, reason, told_severity, told_exposure, told_at, then every
--   alerts column.

SELECT n.notification_id, n.reason, n.severity AS told_severity, n.exposure AS told_exposure,
       n.created_at AS told_at, a.*
FROM notifications n JOIN alerts a USING (alert_id)
WHERE list_contains($ids, n.notification_id)
ORDER BY n.notification_id;
