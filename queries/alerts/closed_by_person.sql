-- name: closed_by_person
-- finds: the evidence of the latest alert of a fingerprint that a person resolved with an
--   outcome (theft, expected, error): a scan that finds only those charges again opens no
--   new alert; a new charge does.
-- params:
--   $fingerprint  VARCHAR
-- returns: alert_id, evidence_txn_ids.

SELECT a.alert_id, a.evidence_txn_ids
FROM alerts a
WHERE a.fingerprint = $fingerprint AND a.state = 'resolved'
  AND EXISTS (SELECT 1 FROM alert_outcomes o
              WHERE o.alert_id = a.alert_id AND o.outcome IN ('theft', 'expected', 'error'))
ORDER BY a.alert_id DESC
LIMIT 1;
