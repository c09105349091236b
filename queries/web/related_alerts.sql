-- name: related_alerts
-- finds: the other alerts about the same payee or the same evidence charges (other
--   detectors' reasons), open ones first, newest first.
-- params:
--   $alert_id  BIGINT
-- returns: alert_id, state, severity, detector, sentence.

WITH this AS (SELECT * FROM alerts WHERE alert_id = $alert_id)
SELECT a.alert_id, a.state, a.severity, a.detector, a.sentence
FROM alerts a, this t
WHERE a.alert_id <> t.alert_id
  AND ((a.counterparty IS NOT NULL AND lower(a.counterparty) = lower(t.counterparty))
       OR len(list_intersect(a.evidence_txn_ids, t.evidence_txn_ids)) > 0)
ORDER BY a.state = 'resolved', a.alert_id DESC
LIMIT 20;
