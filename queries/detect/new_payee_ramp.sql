-- name: new_payee_ramp
-- finds: A payee new to an account whose charges climb: each day it is charged, more than
--   the day before, $min_days charge days in a row, the last at least $min_rise times the
--   first, as when a thief starts small and raises the amount while nobody objects. No
--   amount is too small to start a climb: the money tiers decide when it is worth an alert.
-- params:
--   $new_days       INTEGER  default 180    days a payee counts as new for the account
--   $min_days       INTEGER  default 6      charge days in a row, each more than the one before
--   $min_rise       DOUBLE   default 3.0    the last of them over the first (a climb, not jitter)
--   $max_other_accounts INTEGER default 2   accounts that may have used the payee before
--   $quiet_days     INTEGER  default 30     a finding stays open this long after its last charge
--   $tier_warning   DECIMAL  default 1000   money of the climb that fires at severity warning
--   $tier_high      DECIMAL  default 5000   money of the climb that escalates to high
--   $tier_critical  DECIMAL  default 25000  money of the climb that escalates to critical
-- calibrate: $min_days ladder 6 8 10 12 16 20 24 32
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, each day's more than the last, {exposure} in all; the payee is new to this account and none of the charges is approved

-- A day's charges are summed (two charges of one day are one step) and compared with the
-- previous charge day's; the climbs are numbered by the days that did not rise. Only
-- relative sizes and the tiers are compared, so multiplying every amount and tier by k
-- gives the same alerts.
WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND amount > 0
      AND day <= pair_first_day + $new_days
      AND payee_accounts_before <= $max_other_accounts
),
daily AS (
    SELECT account, counterparty, day, count(*) AS charged, sum(amount) AS total,
        min(posted_at) AS first_at
    FROM counted
    GROUP BY account, counterparty, day
),
stepped AS (
    SELECT *,
        CASE WHEN total > lag(total) OVER pair THEN 0 ELSE 1 END AS restarts
    FROM daily
    WINDOW pair AS (PARTITION BY account, counterparty ORDER BY day)
),
numbered AS (
    SELECT *,
        sum(restarts) OVER (PARTITION BY account, counterparty ORDER BY day
                            ROWS UNBOUNDED PRECEDING) AS climb
    FROM stepped
),
climbs AS (
    SELECT *,
        count(*) OVER run AS days_up,
        sum(total) OVER run AS run_total,
        sum(charged) OVER run AS run_charges,
        first_value(total) OVER run AS first_total,
        min(first_at) OVER run AS since
    FROM numbered
    WINDOW run AS (PARTITION BY account, counterparty, climb ORDER BY day
                   ROWS UNBOUNDED PRECEDING)
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency, r.run_total AS exposure,
    CAST(r.run_charges AS INTEGER) AS charges, r.since,
    CASE WHEN r.days_up >= $min_days AND r.run_total >= $tier_warning
              AND r.total >= CAST($min_rise AS DECIMAL(18, 4)) * r.first_total THEN
        CASE WHEN r.run_total >= $tier_critical THEN 'critical'
             WHEN r.run_total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $quiet_days AS active_until
FROM counted c JOIN climbs r USING (account, counterparty, day)
