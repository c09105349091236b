-- name: pair_earlier_rows
-- finds: nothing; builds temp table `pair_all_charges`, what a pair-keyed detector whose
--   windows have no bound (detection/catalog.py UNBOUNDED_PAIRS: high_risk_payee sums a
--   pair's charges since its first) judges in an incremental scan: temp table
--   `pair_charges` (the charges of the pairs new rows touched, from the horizon on) and,
--   for the pairs in temp table `earlier_pairs` (those of them the detector judges that
--   began before the horizon), every row posted before $horizon, with its pair's facts
--   (table pair_history_pairs). Only those pairs' accounts are read.
-- params:
--   $horizon  DATE  the incremental scan's first posting day
-- returns (temp table `pair_all_charges`): the columns of temp table `charges`.

CREATE OR REPLACE TEMP TABLE pair_all_charges AS
SELECT * FROM pair_charges
UNION ALL BY NAME
SELECT r.*, p.pair_first_day, p.payee_first_day, p.payee_accounts_before
FROM (
    SELECT t.txn_id, t.source, t.account,
           coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
           coalesce(t.initiator, t.account) AS initiator,
           t.counterparty_account, t.mcc, t.posted_at,
           CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
           t.amount, t.currency, e.reference AS explained_by
    FROM transactions t
    LEFT JOIN payee_keys k ON k.name = t.counterparty
    LEFT JOIN explained e USING (source, txn_id)
    WHERE t.posted_at < $horizon
      AND t.account IN (SELECT account FROM earlier_pairs)
) r
JOIN pair_history_pairs p ON p.pair_key = hash(r.account, r.counterparty)
 AND p.account = r.account AND p.counterparty = r.counterparty
WHERE EXISTS (SELECT 1 FROM earlier_pairs e
              WHERE e.account = r.account AND e.counterparty = r.counterparty);
