-- name: features
-- Finds: nothing; builds temp table `charges`, the one input every detector reads:
--   each transaction posted by $as_of with what was known about its payee and
--   account on that day. Every window looks backward only, so a detector run over
--   `charges` sees, for each row, exactly what a daily run on that day would see.
-- Parameters:
--   $as_of  DATE  last posting date to consider
-- Returns (temp table `charges`): txn_id, source, account, counterparty, initiator,
--   counterparty_account, mcc, posted_at, day (days since 1970-01-01), amount, currency,
--   explained_by (authorization reference, NULL when unexplained),
--   pair_first_day, payee_first_day, initiator_payee_first_day,
--   payee_accounts_before (accounts that had charged the payee before this account first did),
--   account_charges_prior (charges in the 365 days before), account_max_prior.

CREATE OR REPLACE TEMP TABLE charges AS
WITH base AS (
    SELECT t.txn_id, t.source, t.account,
           coalesce(t.counterparty, '(no payee)') AS counterparty,
           coalesce(t.initiator, t.account) AS initiator,
           t.counterparty_account, t.mcc, t.posted_at,
           CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
           t.amount, t.currency, e.reference AS explained_by
    FROM transactions t
    LEFT JOIN explained e USING (source, txn_id)
    WHERE t.posted_at <= $as_of
),
pairs AS (
    SELECT account, counterparty, min(day) AS pair_first_day
    FROM base GROUP BY account, counterparty
),
pair_history AS (   -- how many accounts had used the payee before this pair began
    SELECT *, count(*) OVER (PARTITION BY counterparty ORDER BY pair_first_day
                             RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS payee_accounts_before
    FROM pairs
)
SELECT b.*, p.pair_first_day,
    min(b.day) OVER (PARTITION BY b.counterparty) AS payee_first_day,
    min(b.day) OVER (PARTITION BY b.initiator, b.counterparty) AS initiator_payee_first_day,
    p.payee_accounts_before,
    count(CASE WHEN b.amount > 0 THEN 1 END) OVER account_year AS account_charges_prior,
    coalesce(max(b.amount) OVER account_year, 0) AS account_max_prior
FROM base b JOIN pair_history p USING (account, counterparty)
WINDOW account_year AS (PARTITION BY b.account ORDER BY b.day
                        RANGE BETWEEN 365 PRECEDING AND 1 PRECEDING);
