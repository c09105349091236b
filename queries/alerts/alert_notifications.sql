-- name: alert_notifications
-- finds: the notifications about one alert and the messages that carried them.
-- params:
--   $alert_id  BIGINT
-- returns: notification_id, reason, severity, exposure, created_at, outbox_id, channel,
--   recipient, status, sent_at, message_key.

SELECT n.notification_id, n.reason, n.severity, n.exposure, n.created_at, o.outbox_id,
       o.channel, o.recipient, o.status, o.sent_at, o.message_key
FROM notifications n
LEFT JOIN outbox_items i USING (notification_id)
LEFT JOIN outbox o USING (outbox_id)
WHERE n.alert_id = $alert_id
ORDER BY n.notification_id, o.outbox_id;
