-- name: account_charges
-- finds: nothing; builds temp table `account_charges`, what an account-keyed detector
--   (detection/catalog.py ACCOUNT_KEYED: payee_amount_shift) judges in an incremental
--   scan: EVERY row up to $as_of, from the first, of the accounts in scope (temp table
--   `scope`) that have a pair with more than $min_charges rows (table pair_history_pairs
--   counts them). Such a detector's windows reach back without a bound (a CUSUM run
--   carries on until it falls back to zero; a baseline is a year of the account's
--   charges before each charge), so the 400-day horizon of `ledger_rows` would judge
--   a long run, or a charge whose baseline began before the horizon, otherwise than a
--   full scan does. An account with no pair of that many rows is left out: none of its
--   pairs can be judged (the detector needs $min_charges baseline charges before one).
-- params:
--   $as_of        DATE    last posting date to consider
--   $min_charges  BIGINT  a pair with at most this many rows is never judged
-- returns (temp table `account_charges`): the columns of temp table `ledger_rows`.

CREATE OR REPLACE TEMP TABLE account_charges AS
SELECT t.txn_id, t.source, t.account,
       coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       coalesce(t.initiator, t.account) AS initiator,
       t.counterparty_account, t.mcc, t.posted_at,
       CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
       t.amount, t.currency, e.reference AS explained_by
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
LEFT JOIN explained e USING (source, txn_id)
WHERE t.posted_at <= $as_of
  AND t.account IN (SELECT DISTINCT p.account FROM pair_history_pairs p
                    WHERE p.charges > $min_charges
                      AND p.account IN (SELECT key FROM scope WHERE kind = 'account'));
