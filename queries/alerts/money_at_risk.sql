-- name: money_at_risk
-- finds: the money at risk in some alerts, per currency, each charge counted once
--   however many of the alerts cite it (two detectors often see the same charges: their
--   exposures added up would count those charges twice).
-- params:
--   $alert_ids  BIGINT[]  the alerts (the open ones, one severity's, a report's)
-- returns: currency, money, charges.

SELECT t.currency, sum(t.amount) AS money, count(*) AS charges
FROM transactions t
WHERE t.txn_id IN (SELECT DISTINCT unnest(evidence_txn_ids) FROM alerts
                   WHERE list_contains($alert_ids, alert_id))
GROUP BY t.currency
ORDER BY t.currency;
