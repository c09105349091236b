-- name: account_charges
-- finds: nothing; builds temp table `account_charges`, what an account-keyed detector
--   (detection/catalog.py ACCOUNT_KEYED: payee_amount_shift) judges in an incremental
--   scan: EVERY row up to $as_of, from the first, of the accounts of the new rows (temp
--   table `scope_pairs`) that have a pair of more than $min_charges rows (tables
--   pair_history_pairs and pair_history_added count them). Such a detector's windows
--   reach back without a bound (a CUSUM run carries on until it falls back to zero; a
--   baseline is a year of the account's charges before each charge), so the 400-day
--   horizon of `ledger_rows` would judge a long run, or a charge whose baseline began
--   before the horizon, otherwise than a full scan does. An account without new rows is
--   judged as before; one with no such pair is left out: none of its pairs can be judged
--   (the detector needs $min_charges baseline charges before one).
-- params:
--   $as_of        DATE    last posting date to consider
--   $min_charges  BIGINT  a pair with at most this many rows is never judged
-- returns (temp table `account_charges`): txn_id, account, counterparty (payee key),
--   posted_at, day, amount, currency, explained_by: the columns of temp table `charges`
--   such a detector reads (fewer columns read: 1.6 to 1.2 s of CPU at 10M rows).

CREATE OR REPLACE TEMP TABLE account_charges AS
WITH added AS (       -- what later files added to kept pairs, by key hash (two pairs of
                      -- one hash would only have more rows read than needed)
    SELECT pair_key, sum(charges) AS charges FROM pair_history_added GROUP BY pair_key
),
accounts AS (
    SELECT account FROM (
        SELECT p.account FROM pair_history_pairs p WHERE p.charges > $min_charges
        UNION
        SELECT p.account FROM pair_history_pairs p JOIN added a ON a.pair_key = p.pair_key
        WHERE p.charges + a.charges > $min_charges) a
    WHERE account IN (SELECT pair_account FROM scope_pairs)
)
SELECT t.txn_id, t.account, coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       t.posted_at, CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
       t.amount, t.currency, e.reference AS explained_by
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
LEFT JOIN explained e USING (source, txn_id)
WHERE t.posted_at <= $as_of AND t.account IN (SELECT account FROM accounts);
