-- name: list_alerts
-- finds: alerts in a state, newest first.
-- params:
--   $state  VARCHAR  default 'open'  open (not resolved) | all | firing | acknowledged |
--                                    silenced | resolved
--   $limit  INTEGER  default 100     most rows returned
-- returns: alert_id, state, severity, detector, account, counterparty, initiator, exposure,
--   currency, charges, since, opened_at, last_notified_at, acked_by, sentence.

SELECT alert_id, state, severity, detector, account, counterparty, initiator, exposure,
       currency, charges, since, opened_at, last_notified_at, acked_by, sentence
FROM alerts
WHERE CASE $state WHEN 'open' THEN state <> 'resolved' WHEN 'all' THEN true
                  ELSE state = $state END
ORDER BY alert_id DESC
LIMIT $limit;
