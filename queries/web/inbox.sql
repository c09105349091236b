-- name: inbox
-- finds: the open alerts, most suspicious first: by severity, then by money at risk, then
--   oldest first; one row each with what the inbox line shows.
-- params:
--   $limit  INTEGER  default 1000  most rows returned
-- returns: alert_id, state, severity, detector, account, counterparty, initiator, exposure,
--   currency, charges, since, opened_at, acked_by, sentence.

SELECT alert_id, state, severity, detector, account, counterparty, initiator, exposure,
       currency, charges, since, opened_at, acked_by, sentence
FROM alerts
WHERE state <> 'resolved'
ORDER BY CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 ELSE 1 END DESC,
         exposure DESC, alert_id
LIMIT $limit;
