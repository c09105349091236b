-- name: list_outbox
-- finds: messages in the outbox, newest first, without their bodies.
-- params:
--   $status  VARCHAR  default 'all'  pending | sent | failed | all
--   $limit   INTEGER  default 100    most rows returned
-- returns: outbox_id, status, channel, recipient, kind, subject, created_at, attempts,
--   next_attempt_at, last_error, sent_at, sent_via, message_key, alerts (alert ids carried).

SELECT o.outbox_id, o.status, o.channel, o.recipient, o.kind, o.subject, o.created_at,
       o.attempts, o.next_attempt_at, o.last_error, o.sent_at, o.sent_via, o.message_key,
       (SELECT list(DISTINCT n.alert_id ORDER BY n.alert_id)
        FROM outbox_items i JOIN notifications n USING (notification_id)
        WHERE i.outbox_id = o.outbox_id) AS alerts
FROM outbox o
WHERE $status = 'all' OR o.status = $status
ORDER BY o.outbox_id DESC
LIMIT $limit;
