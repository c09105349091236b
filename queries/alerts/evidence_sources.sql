-- name: evidence_sources
-- finds: the ledger sources an alert's evidence charges came from (routing uses them).
-- params:
--   $txn_ids  VARCHAR[]  the alert's evidence_txn_ids
-- returns: sources (VARCHAR[], sorted, empty when none).

SELECT coalesce(list(DISTINCT source ORDER BY source), []::VARCHAR[]) AS sources
FROM transactions
WHERE list_contains($txn_ids, txn_id);
