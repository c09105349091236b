-- name: inbox
-- finds: the open alerts, most suspicious first (monitor.alerting.lifecycle.suspicion, as
--   the e-mail orders them): an alert about one payee's charges before one about a total
--   or a feed, then by severity, then by money at risk, then oldest first; one row each
--   with what the inbox line shows.
-- params:
--   $limit      INTEGER    default 1000  most rows returned
--   $aggregate  VARCHAR[]                detectors about a total or a feed (lifecycle.AGGREGATE_DETECTORS)
-- returns: alert_id, state, severity, detector, account, counterparty, initiator, exposure,
--   currency, charges, since, opened_at, acked_by, sentence.

SELECT alert_id, state, severity, detector, account, counterparty, initiator, exposure,
       currency, charges, since, opened_at, acked_by, sentence
FROM alerts
WHERE state <> 'resolved'
ORDER BY list_contains($aggregate, detector),
         CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 ELSE 1 END DESC,
         exposure DESC, alert_id
LIMIT $limit;
