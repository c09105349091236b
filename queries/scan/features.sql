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
)
SELECT *,
    min(day) OVER (PARTITION BY account, counterparty) AS pair_first_day,
    min(day) OVER (PARTITION BY counterparty) AS payee_first_day,
    min(day) OVER (PARTITION BY initiator, counterparty) AS initiator_payee_first_day,
    count(*) FILTER (WHERE amount > 0) OVER account_year AS account_charges_prior,
    coalesce(max(amount) OVER account_year, 0) AS account_max_prior
FROM base
WINDOW account_year AS (PARTITION BY account ORDER BY day
                        RANGE BETWEEN 365 PRECEDING AND 1 PRECEDING);
