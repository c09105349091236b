-- name: insert_transactions
-- finds: the usable parsed rows the ledger does not hold yet, and appends them in file
--   order. Used when the file's txn_ids are known to be distinct; a row is already held
--   when its source has a transaction with the same txn_id from an earlier export.
-- reads: temp view `parsed_full` (temp table `parsed` with every column, its rowid as
--   row_index).
-- params:
--   $file_id    BIGINT     the file being ingested
--   $source     VARCHAR    the file's source name
--   $currency   VARCHAR    the file's currency when no column gives it (parsed.currency
--                          is then NULL: read as coalesce(currency, upper($currency)))
--   $account    VARCHAR    the same for the account (coalesce(account, $account))
--   $at         TIMESTAMP  ingest time
--   $first_row  BIGINT     file row number of row_index 0
--   $by_order   BOOLEAN    rows are numbered by their order (parsed.source_row is all NULL)
--   $fresh      BOOLEAN    the source holds no transactions yet, so nothing can be held
-- returns: the number of rows inserted into transactions.

INSERT INTO transactions
SELECT p.txn_id, $source, coalesce(p.account, $account), p.posted_at, p.amount,
       coalesce(p.currency, upper($currency)), p.counterparty,
       p.counterparty_account, p.initiator, p.mcc, p.description, p.reference,
       $file_id, CASE WHEN $by_order THEN p.row_index + $first_row ELSE p.source_row END, $at
FROM parsed_full p
WHERE p.reason IS NULL
  -- With $fresh the subquery is empty and DuckDB drops the anti-join altogether.
  AND NOT EXISTS (
      SELECT 1 FROM transactions t
      WHERE NOT $fresh AND t.source = $source AND t.txn_id = p.txn_id
  );
