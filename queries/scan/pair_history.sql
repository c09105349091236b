-- name: pair_history
-- finds: nothing; merges into table pair_history the transactions of files after
--   $after_file_id up to $max_file_id. Transactions are only ever added, so merging the
--   new files' first days (the earlier day wins) gives the same table as a rebuild.
--   Notes whether the new files change facts of days already past: a row of a payee
--   posted before that payee's latest first day moves its first days or its count of
--   earlier accounts, and then everything kept must be rebuilt. A row's `charges` stay as
--   the row was inserted: later files' rows go to table pair_history_added
--   (scan/pair_facts_append.sql).
-- params:
--   $after_file_id  BIGINT  files up to this id are already merged
--   $max_file_id    BIGINT  the highest file id in `transactions` now
-- returns: nothing; leaves temp tables new_pairs (the new files' first days and rows),
--   old_pairs
--   (pair_history's rows of their payees before the merge) and rewrites (rewrote: facts
--   of past days changed) for the caller.

CREATE OR REPLACE TEMP TABLE new_pairs AS
SELECT t.account, coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       coalesce(t.initiator, t.account) AS initiator,
       CAST(min(date_diff('day', DATE '1970-01-01', t.posted_at)) AS INTEGER) AS first_day,
       count(*) AS charges,
       sum(CASE WHEN t.amount > 0 THEN t.amount ELSE 0 END) AS spend,
       CAST(max(date_diff('day', DATE '1970-01-01', t.posted_at)) AS INTEGER) AS last_day
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty     -- by payee key, as scan/ledger_rows.sql
WHERE t.file_id > $after_file_id AND t.file_id <= $max_file_id
GROUP BY ALL;

-- Every kept row of the new files' payees, read once: whether a row, an account-payee
-- or an initiator-payee is new, and what was known of its payee, all lie within these
-- (each test read all of pair_history, 3.7M rows at 10M charges, once more).
CREATE OR REPLACE TEMP TABLE old_pairs AS     -- the columns read below (not the counts)
SELECT h.account, h.counterparty, h.initiator, h.first_day FROM pair_history h
WHERE h.counterparty IN (SELECT counterparty FROM new_pairs);

CREATE OR REPLACE TEMP TABLE rewrites AS
SELECT EXISTS (
    SELECT 1 FROM new_pairs n JOIN old_pairs h
      ON h.counterparty = n.counterparty AND h.first_day > n.first_day) AS rewrote;

UPDATE pair_history h SET first_day = n.first_day
FROM new_pairs n
WHERE h.account = n.account AND h.counterparty = n.counterparty
  AND h.initiator = n.initiator AND n.first_day < h.first_day;

INSERT INTO pair_history
SELECT n.account, n.counterparty, n.initiator, n.first_day, n.charges, n.spend,
       n.last_day
FROM new_pairs n
WHERE NOT EXISTS (SELECT 1 FROM old_pairs h
                  WHERE h.account = n.account AND h.counterparty = n.counterparty
                    AND h.initiator = n.initiator);
