-- name: pair_firsts
-- Finds: the first posting day of every (account, payee, initiator) among rows of files
--   after $after_file_id, into temp table `new_firsts`; queries/scan/pair_firsts_merge.sql
--   then folds them into pair_firsts (an earlier day wins). So no scan ever needs a pass
--   over the whole history for first days.
-- Parameters:
--   $after_file_id  BIGINT  only rows of files with a larger id (-1: every row)
-- Returns (temp table `new_firsts`): account, counterparty, initiator, first_day.

CREATE OR REPLACE TEMP TABLE new_firsts AS
SELECT account, coalesce(counterparty, '(no payee)') AS counterparty,
       coalesce(initiator, account) AS initiator,
       CAST(min(date_diff('day', DATE '1970-01-01', posted_at)) AS INTEGER) AS first_day
FROM transactions
WHERE file_id > $after_file_id
GROUP BY ALL;
