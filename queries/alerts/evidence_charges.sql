-- name: evidence_charges
-- Finds: the ledger rows behind an alert, by transaction id, in posting order.
-- Parameters:
--   $txn_ids  VARCHAR[]  the alert's evidence_txn_ids
-- Returns: posted_at, amount, currency, counterparty, account, initiator, description,
--   source, txn_id.

SELECT posted_at, amount, currency, counterparty, account, initiator, description, source,
       txn_id
FROM transactions
WHERE list_contains($txn_ids, txn_id)
ORDER BY posted_at, txn_id;
