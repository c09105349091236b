-- name: insert_transactions
-- Finds: the usable staged rows the ledger does not hold yet, and appends them.
--   A row is already held when its source has a transaction with the same txn_id
--   (from this file or an earlier, overlapping export).
-- Reads: temp table `parsed`.
-- Parameters:
--   $file_id  BIGINT     the file being ingested
--   $source   VARCHAR    the file's source name
--   $at       TIMESTAMP  ingest time
-- Returns: the number of rows inserted into transactions.

INSERT INTO transactions
SELECT p.txn_id, $source, p.account, p.posted_at, p.amount, p.currency, p.counterparty,
       p.counterparty_account, p.initiator, p.mcc, p.description, p.reference,
       $file_id, p.source_row, $at
FROM parsed p
WHERE p.reason IS NULL
  AND NOT p.duplicate_in_file
  AND NOT EXISTS (
      SELECT 1 FROM transactions t
      WHERE t.source = $source AND t.txn_id = p.txn_id
  );
