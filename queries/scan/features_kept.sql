-- name: features_kept
-- finds: nothing; builds temp table `charges` as scan/features.sql does, from the facts
--   kept between scans (tables pair_history_pairs and pair_history_initiators), joined by
--   the hash of each key (pair_key) rather than by the key's text: the kept tables hold
--   every pair of all history (3.7M rows at 10M charges), and reading and hashing two
--   text columns of each cost 0.9 s of CPU in a 10M-row incremental scan, the hashes
--   0.5 s. Two keys of one hash would give a charge two rows (every charge's pair is
--   kept), so the caller compares the row counts and, when they differ, builds
--   `charges` again with scan/features.sql. An incremental scan (rows from $horizon on)
--   joins only the kept pairs posted on or after it (last_day, theirs or that of rows
--   later files added, table pair_history_added): where nearly every charge opens a
--   pair, the others are three quarters of the 9.5M kept; a pair left out by mistake
--   would lose rows, and the counts compared above would catch it.
-- params:
--   $horizon  DATE  first posting date in temp table ledger_rows (NULL: all history)
-- returns (temp table `charges`): as scan/features.sql.

CREATE OR REPLACE TEMP TABLE charges AS
SELECT r.*, p.pair_first_day, p.payee_first_day, p.payee_accounts_before
FROM ledger_rows r
JOIN (SELECT * FROM pair_history_pairs
      WHERE $horizon IS NULL
         OR last_day >= date_diff('day', DATE '1970-01-01', $horizon)
         OR pair_key IN (SELECT pair_key FROM pair_history_added
                         WHERE last_day >= date_diff('day', DATE '1970-01-01', $horizon))) p
  ON p.pair_key = hash(r.account, r.counterparty);
