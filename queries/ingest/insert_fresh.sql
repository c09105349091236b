-- name: insert_fresh
-- finds: nothing to compare with: the source holds no transactions yet and the file's
--   txn_ids are distinct, so every usable parsed row is new; appends them in file order.
--   Kept apart from insert_transactions on purpose: its anti-join, even when a flag
--   empties it, leaves a join in the plan, and DuckDB then inserts on one thread to
--   keep the rows in order; with no join it writes the rows on every thread, in order
--   (a batch insert).
-- reads: temp table `parsed`.
-- params:
--   $file_id    BIGINT     the file being ingested
--   $source     VARCHAR    the file's source name
--   $currency   VARCHAR    the file's currency when no column gives it (parsed.currency
--                          is then NULL: read as coalesce(currency, upper($currency)))
--   $account    VARCHAR    the same for the account (coalesce(account, $account))
--   $at         TIMESTAMP  ingest time
--   $first_row  BIGINT     file row number of parsed.rowid 0
--   $by_order   BOOLEAN    rows are numbered by their order (parsed.source_row is all NULL)
-- returns: the number of rows inserted into transactions.

INSERT INTO transactions
SELECT p.txn_id, $source, coalesce(p.account, $account), p.posted_at, p.amount,
       coalesce(p.currency, upper($currency)), p.counterparty,
       p.counterparty_account, p.initiator, p.mcc, p.description, p.reference,
       $file_id, CASE WHEN $by_order THEN p.rowid + $first_row ELSE p.source_row END, $at
FROM parsed p
WHERE p.reason IS NULL;
