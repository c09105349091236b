-- name: insert_numbered
-- finds: the usable parsed rows the ledger does not hold yet, when rows share a txn_id
--   or key: with derived ids each row with the same content key gets its ordinal in the
--   file (key.1, key.2, ...), so identical charges stay separate and an overlapping export
--   yields the same ids; with mapped ids only the first row of a repeated txn_id counts.
-- reads: temp view `parsed_full` (temp table `parsed` with every column, its rowid as
--   row_index).
-- params:
--   $file_id     BIGINT     the file being ingested
--   $source      VARCHAR    the file's source name
--   $currency    VARCHAR    the file's currency when no column gives it (parsed.currency
--                           is then NULL: read as coalesce(currency, upper($currency)))
--   $account     VARCHAR    the same for the account (coalesce(account, $account))
--   $at          TIMESTAMP  ingest time
--   $first_row   BIGINT     file row number of row_index 0
--   $by_order    BOOLEAN    rows are numbered by their order (parsed.source_row is all NULL)
--   $fresh       BOOLEAN    the source holds no transactions yet, so nothing can be held
--   $derive_ids  BOOLEAN    txn_id holds content keys to number, not ids from the file
-- returns: the number of rows inserted into transactions.

INSERT INTO transactions
WITH ordered AS (
    SELECT p.*, CASE WHEN $by_order THEN p.row_index + $first_row ELSE p.source_row END AS file_row,
           row_number() OVER (PARTITION BY p.txn_id
                              ORDER BY CASE WHEN $by_order THEN p.row_index + $first_row ELSE p.source_row END) AS ordinal
    FROM parsed_full p
    WHERE p.reason IS NULL
),
identified AS (
    SELECT * REPLACE (CASE WHEN $derive_ids THEN txn_id || '.' || ordinal ELSE txn_id END AS txn_id)
    FROM ordered
    WHERE $derive_ids OR ordinal = 1
)
SELECT n.txn_id, $source, coalesce(n.account, $account), n.posted_at, n.amount,
       coalesce(n.currency, upper($currency)), n.counterparty,
       n.counterparty_account, n.initiator, n.mcc, n.description, n.reference,
       $file_id, n.file_row, $at
FROM identified n
-- With $fresh the subquery is empty and DuckDB drops the anti-join altogether.
WHERE NOT EXISTS (
    SELECT 1 FROM transactions t
    WHERE NOT $fresh AND t.source = $source AND t.txn_id = n.txn_id
);
