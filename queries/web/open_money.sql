-- name: open_money
-- finds: the money at risk in the open alerts, per currency, each charge counted once
--   however many alerts cite it.
-- params: none.
-- returns: currency, money, charges.

SELECT t.currency, sum(t.amount) AS money, count(*) AS charges
FROM transactions t
WHERE t.txn_id IN (SELECT DISTINCT unnest(evidence_txn_ids) FROM alerts
                   WHERE state <> 'resolved')
GROUP BY t.currency
ORDER BY t.currency;
