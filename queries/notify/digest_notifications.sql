-- name: digest_notifications
-- finds: notifications recorded since the last digest sent to a recipient (or in the
--   day before $now when it never had one), with their alert, for the next digest.
-- params:
--   $recipient  VARCHAR    the digest's recipient
--   $now        TIMESTAMP  the time of this digest
-- returns: notification_id, reason, told_severity, told_exposure, told_at, then every
--   alerts column.

SELECT n.notification_id, n.reason, n.severity AS told_severity, n.exposure AS told_exposure,
       n.created_at AS told_at, a.*
FROM notifications n JOIN alerts a USING (alert_id)
WHERE n.created_at > coalesce(
        (SELECT max(created_at) FROM outbox WHERE kind = 'digest' AND recipient = $recipient),
        $now - INTERVAL 1 DAY)
  AND n.created_at <= $now
ORDER BY n.notification_id;
