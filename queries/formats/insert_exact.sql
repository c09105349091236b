-- name: insert_exact
-- finds: the exact (unrounded, or original-currency) amounts of rows this file added.
-- reads: registered relation `exact_rows` (txn_id, exact, original, original_currency; text).
-- params:
--   $file_id  BIGINT   the file being ingested
--   $source   VARCHAR  its source
-- returns: nothing.

INSERT INTO exact_amounts
SELECT $file_id, $source, e.txn_id, e.exact::DECIMAL(38,10), e.original::DECIMAL(38,10),
       e.original_currency
FROM exact_rows e
JOIN transactions t ON t.source = $source AND t.txn_id = e.txn_id AND t.file_id = $file_id;
