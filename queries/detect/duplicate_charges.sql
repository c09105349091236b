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
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} identical charges to '{counterparty}' from account {account} since {since}, {exposure}, on different days, none of them approved

WITH same AS (
    SELECT *,
        count(*) OVER recent AS copies,
        min(day) OVER recent AS first_day,
        min(posted_at) OVER recent AS first_at,
        sum(amount) OVER recent AS total,
        count(*) OVER routine AS seen_before
    FROM charges
    WHERE explained_by IS NULL AND amount >= $min_amount
    WINDOW recent AS (PARTITION BY account, counterparty, amount ORDER BY day
                      RANGE BETWEEN $days_apart PRECEDING AND CURRENT ROW),
           routine AS (PARTITION BY account, counterparty, amount ORDER BY day
                       RANGE BETWEEN $history_days PRECEDING AND $days_apart + 1 PRECEDING)
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, total AS exposure, CAST(copies AS INTEGER) AS charges, first_at AS since,
    CASE WHEN copies >= $min_copies AND first_day < day AND seen_before = 0 THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $days_apart AS active_until
FROM same
