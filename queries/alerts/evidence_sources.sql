-- name: evidence_sources
-- finds: the ledger sources an alert's evidence charges came from (routing uses them), and
--   each charge's id, currency and amount (alerts.evidence_money: the money at risk of
--   several alerts, each charge once, is then summed without another pass over the ledger).
-- params:
--   $txn_ids  VARCHAR[]  the alert's evidence_txn_ids
-- returns: sources (VARCHAR[], sorted, empty when none), money (STRUCT[], by txn_id).

SELECT coalesce(list(DISTINCT source ORDER BY source), []::VARCHAR[]) AS sources,
       coalesce(list({'txn_id': txn_id, 'currency': currency, 'amount': amount}
                     ORDER BY txn_id, source),
                []::STRUCT(txn_id VARCHAR, currency VARCHAR, amount DECIMAL(18,2))[]) AS money
FROM transactions
WHERE list_contains($txn_ids, txn_id);
