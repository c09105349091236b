-- name: frequency_burst
-- finds: Many small charges to one payee on many different days, far more often than this
--   account ever paid it: a couple of hundred tiny charges adds up while no single one is
--   worth a look. It fires once the charges fall on $min_days days of one window (a few
--   coins a day add up to the low money floor), to a payee few other accounts had
--   paid before this one: a shop many cards use (Amazon, a supermarket) is bought from
--   in bursts all the time, and is left to unexplained_drift. A daily parking app stays
--   quiet once it is the account's habit (its rate is its own baseline), and so does a
--   block of hotel bookings made on a few days.
-- params:
--   $window_days        INTEGER  default 30     charges are counted over this many days
--   $baseline_days      INTEGER  default 365    length of the baseline
--   $lag_days           INTEGER  default 30     the baseline ends this many days before each day
--   $min_charges        INTEGER  default 8      charges in the window needed to fire
--   $min_days           INTEGER  default 12     days with charges in the window needed to fire
--   $max_average_charge DECIMAL  default 100    only small charges: the window's average at most this
--   $ratio              DOUBLE   default 4.0    window count over the baseline's count per window
--   $min_exposure       DECIMAL  default 150    money in the window needed to fire (a new
--                                            parking app at 3.80 a day stays under it)
--   $max_other_accounts INTEGER  default 2      accounts that may have paid the payee before this one
--   $tier_high          DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical      DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_days ladder 8 10 12 15 18 21 24 27 30
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} small charges to '{counterparty}' from account {account} since {since}, {exposure}, far more often than this account usually pays it, none of them approved

-- Why the days and not the ratio are calibrated: a payee new to the account has no
-- baseline, so the ratio passes whatever its value, and most bursts are new payees (issue
-- 17: 'tiny' thefts of 1-25 a charge, one or two a day, were never caught while the rule
-- asked for 40 charges and 500 in 30 days; on Birmingham 4 honest pairs in 43 months
-- reach 15 days in 30 at a payee at most two other cards used, 17 at any payee).
WITH possible AS (   -- a pair with fewer charges in all than the window needs can never fire
    SELECT account, counterparty FROM charges
    WHERE explained_by IS NULL AND amount > 0
    GROUP BY account, counterparty
    HAVING count(*) >= $min_charges AND sum(amount) >= $min_exposure
       AND min(payee_accounts_before) <= $max_other_accounts
),
small AS (
    SELECT c.* FROM charges c SEMI JOIN possible p USING (account, counterparty)
    WHERE c.explained_by IS NULL AND c.amount > 0
),
daily AS (
    SELECT account, counterparty, day, count(*) AS n, sum(amount) AS total
    FROM small GROUP BY account, counterparty, day
),
windowed AS (
    SELECT *,
        count(*) OVER recent AS days_recent,
        sum(n) OVER recent AS n_recent,
        sum(total) OVER recent AS total_recent,
        min(day) OVER recent AS first_day,
        coalesce(sum(n) OVER baseline, 0) AS n_baseline
    FROM daily
    WINDOW recent AS (PARTITION BY account, counterparty ORDER BY day
                      RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW),
           baseline AS (PARTITION BY account, counterparty ORDER BY day
                        RANGE BETWEEN $baseline_days PRECEDING AND $lag_days PRECEDING)
)
SELECT s.account, s.counterparty, CAST(NULL AS VARCHAR) AS initiator, s.txn_id, s.posted_at,
    s.day, s.amount, s.currency, w.total_recent AS exposure, CAST(w.n_recent AS INTEGER) AS charges,
    s.posted_at - CAST(s.day - w.first_day AS INTEGER) AS since,
    CASE WHEN w.n_recent >= $min_charges AND w.days_recent >= $min_days
              AND w.total_recent >= $min_exposure
              AND w.total_recent <= $max_average_charge * w.n_recent
              AND w.n_recent >= $ratio * w.n_baseline * $window_days / ($baseline_days - $lag_days) THEN
        CASE WHEN w.total_recent >= $tier_critical THEN 'critical'
             WHEN w.total_recent >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    s.posted_at + $window_days AS active_until
FROM small s JOIN windowed w USING (account, counterparty, day)
