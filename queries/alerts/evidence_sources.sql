-- name: evidence_sources
-- Finds: the ledger sources an alert's evidence charges came from (routing uses them).
-- Parameters:
--   $txn_ids  VARCHAR[]  the alert's evidence_txn_ids
-- Returns: sources (VARCHAR[], sorted, empty when none).

SELECT coalesce(list(DISTINCT source ORDER BY source), []::VARCHAR[]) AS sources
FROM transactions
WHERE list_contains($txn_ids, txn_id);
