-- name: evidence_charges
-- finds: the ledger rows behind an alert, by transaction id, in posting order.
-- params:
--   $txn_ids  VARCHAR[]  the alert's evidence_txn_ids
-- returns: posted_at, amount, currency, counterparty, account, initiator, description,
--   source, txn_id.

SELECT posted_at, amount, currency, counterparty, account, initiator, description, source,
       txn_id
FROM transactions
WHERE list_contains($txn_ids, txn_id)
ORDER BY posted_at, txn_id;
