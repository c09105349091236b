-- name: account_charges
-- finds: nothing; builds temp table `account_charges`, what an account-keyed detector
--   (detection/catalog.py ACCOUNT_KEYED: payee_amount_shift) judges in an incremental
--   scan: EVERY row up to the scan's date, from the first, of the accounts whose
--   findings the new rows can change, and notes those accounts in temp table
--   `account_rescanned` (macro `rescanned`, scan/scope.sql: the findings of the other
--   accounts carry over).
--   Such a detector's windows reach back without a bound (a CUSUM run carries on until
--   it falls back to zero; a baseline is a year of the account's charges before each
--   charge), so the 400-day horizon of `ledger_rows` would judge a long run, or a charge
--   whose baseline began before the horizon, otherwise than a full scan does.
--   Only a pair of more than $min_charges rows whose positive amounts sum to at least
--   $min_spend can fire (tables pair_history_pairs and pair_history_added count and sum
--   every row, approved or not, so the kept figures are never below the detector's; and
--   rows are only ever added, so a pair that cannot fire now never could). An account
--   of the new rows (temp table `scope_pairs`) is read when it has such a pair and
--   either one of them is among its new pairs, or a new row of it is posted on or before
--   $late_day (the previous scan's date less the detector's lag): a row changes the
--   account's baselines only from $lag_days after its day on, and every earlier row is
--   posted by the previous scan's date, so an account whose new rows are all later
--   judges its other pairs' charges as before (their findings carry over). On the
--   10M-row Birmingham benchmark this reads 567 of the 9,428 accounts of the new rows
--   (all of them were read before; 5,159 have a pair that can fire).
-- params:
--   $detector     VARCHAR  the detector (its accounts in `account_rescanned`)
--   $horizon      DATE     first posting date of temp table ledger_rows (the scope's)
--   $late_day     DATE     a new row posted on or before this day changes earlier judgments
--   $min_charges  BIGINT   a pair with at most this many rows is never judged
--   $min_spend    DECIMAL  a pair whose positive amounts sum to less is never judged
-- returns (temp table `account_charges`): txn_id, account, counterparty (payee key),
--   posted_at, day, amount, currency, explained_by: the columns of temp table `charges`
--   such a detector reads (fewer columns read: 1.6 to 1.2 s of CPU at 10M rows).

INSERT INTO account_rescanned
WITH added AS (       -- what later files added to kept pairs, by key hash (two pairs of
                      -- one hash would only have more rows read than needed)
    SELECT pair_key, sum(charges) AS charges, sum(spend) AS spend
    FROM pair_history_added GROUP BY pair_key
),
possible AS (         -- the pairs that can fire, of the accounts of the new rows
    SELECT account, counterparty FROM (
        SELECT p.account, p.counterparty FROM pair_history_pairs p
        WHERE p.charges > $min_charges AND p.spend >= $min_spend
        UNION
        SELECT p.account, p.counterparty FROM pair_history_pairs p
        JOIN added a ON a.pair_key = p.pair_key
        WHERE p.charges + a.charges > $min_charges AND p.spend + a.spend >= $min_spend) a
    WHERE account IN (SELECT pair_account FROM scope_pairs)
)
SELECT DISTINCT $detector, account FROM (
    SELECT p.account FROM possible p
    SEMI JOIN scope_pairs s ON s.pair_account = p.account AND s.pair_payee = p.counterparty
    UNION ALL
    SELECT p.account FROM possible p
    WHERE p.account IN (SELECT pair_account FROM scope_pairs WHERE first_new_day <= $late_day)
) a;

-- Their rows from $horizon on are in temp table ledger_rows already (an account of the
-- new rows is in scope), keyed and explained: only the earlier ones are read again.
CREATE OR REPLACE TEMP TABLE account_charges AS
SELECT r.txn_id, r.account, r.counterparty, r.posted_at, r.day, r.amount, r.currency,
       r.explained_by
FROM ledger_rows r
WHERE r.account IN (SELECT rescanned_account FROM account_rescanned
                    WHERE rescanned_detector = $detector)
UNION ALL
SELECT t.txn_id, t.account, coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       t.posted_at, CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
       t.amount, t.currency, e.reference AS explained_by
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
LEFT JOIN explained e USING (source, txn_id)
WHERE t.posted_at < $horizon
  AND t.account IN (SELECT rescanned_account FROM account_rescanned
                    WHERE rescanned_detector = $detector);
