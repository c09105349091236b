-- name: duplicate_charges
-- finds: The same charge taken again: the same amount from the same account to the same
--   payee on different days within $days_apart days, at least $min_copies times. Repeats on
--   the same day (several tickets, one order split) are left alone, as are exact repeats
--   of a payee the account has long paid that amount (a subscription).
-- params:
--   $days_apart     INTEGER  default 3      copies must fall within this many days
--   $min_amount     DECIMAL  default 500    smallest charge that counts
--   $min_copies     INTEGER  default 3      charges of the same amount needed to fire
--   $history_days   INTEGER  default 365    an amount paid this payee before this is routine
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_amount quantile 0.5 0.75 0.9 0.95 0.97 0.98 0.99 0.995 0.998 0.9995
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} identical charges to '{counterparty}' from account {account} since {since}, {exposure}, on different days, none of them approved

-- Windows run over one row per key and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL AND amount >= $min_amount
),
daily AS (
    SELECT account, counterparty, amount, day, min(posted_at) AS posted_at,
        count(*) AS n, sum(amount) AS total
    FROM counted
    GROUP BY account, counterparty, amount, day
),
same AS (
    SELECT account, counterparty, amount, day,
        sum(n) OVER recent AS copies,
        min(day) OVER recent AS first_day,
        min(posted_at) OVER recent AS first_at,
        sum(total) OVER recent AS total,
        coalesce(sum(n) OVER routine, 0) AS seen_before
    FROM daily
    WINDOW recent AS (PARTITION BY account, counterparty, amount ORDER BY day
                      RANGE BETWEEN $days_apart PRECEDING AND CURRENT ROW),
           routine AS (PARTITION BY account, counterparty, amount ORDER BY day
                       RANGE BETWEEN $history_days PRECEDING AND $days_apart + 1 PRECEDING)
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency, s.total AS exposure, CAST(s.copies AS INTEGER) AS charges,
    s.first_at AS since,
    CASE WHEN s.copies >= $min_copies AND s.first_day < c.day AND s.seen_before = 0 THEN
        CASE WHEN s.total >= $tier_critical THEN 'critical'
             WHEN s.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $days_apart AS active_until
FROM counted c JOIN same s USING (account, counterparty, amount, day)
