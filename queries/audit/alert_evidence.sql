-- name: alert_evidence
-- finds: The ledger rows behind one alert: every charge whose transaction id is among the
--   alert's evidence ids, in posting order. `monitor evidence` runs exactly this.
-- params:
--   $alert_id  BIGINT  default NULL  the alert (see `monitor alerts list --state all`)
-- returns: posted_at, amount, currency, counterparty, account, initiator, description,
--   reference, source, txn_id, file_id, source_row.

SELECT t.posted_at, t.amount, t.currency, t.counterparty, t.account, t.initiator,
       t.description, t.reference, t.source, t.txn_id, t.file_id, t.source_row
FROM transactions t
WHERE list_contains((SELECT evidence_txn_ids FROM alerts WHERE alert_id = $alert_id), t.txn_id)
ORDER BY t.posted_at, t.source, t.txn_id, t.file_id, t.source_row;
