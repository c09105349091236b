-- name: round_amount_run
-- finds: A run of round-amount charges (multiples of $round_to) to a payee new to the
--   account, with no ordinary, uneven amounts in between: invoices made up rather than
--   priced. Round charges are counted once per day: fees for several people booked on
--   one day are one purchase, not a run.
-- params:
--   $new_days       INTEGER  default 120    days a payee counts as new for the account
--   $window_days    INTEGER  default 90     charges are counted over this many days
--   $round_to       DECIMAL  default 50     an amount is round when it is a multiple of this
--   $min_charge     DECIMAL  default 200    smallest charge that counts
--   $min_charges    INTEGER  default 3      round charges needed to fire, each on a different day
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_charge quantile 0.5 0.75 0.9 0.95 0.97 0.98 0.99 and $min_charges ladder 3 4 6 8 12
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} round-amount charges to '{counterparty}' from account {account} since {since}, {exposure}; the payee is new to this account and none of the charges is approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH counted AS (
    SELECT *, CASE WHEN amount % $round_to = 0 THEN 1 ELSE 0 END AS is_round
    FROM charges
    WHERE explained_by IS NULL AND amount >= $min_charge
      AND day <= pair_first_day + $new_days
),
daily AS (
    SELECT account, counterparty, day, sum(is_round) AS round_charges,
        count(*) AS all_charges, sum(amount) AS total, min(posted_at) AS first_at
    FROM counted
    GROUP BY account, counterparty, day
),
windowed AS (
    SELECT account, counterparty, day,
        sum(round_charges) OVER w AS round_charges,
        count(CASE WHEN round_charges > 0 THEN 1 END) OVER w AS round_days,
        sum(all_charges) OVER w AS all_charges,
        sum(total) OVER w AS total,
        min(day) OVER w AS first_day,
        min(first_at) OVER w AS first_at
    FROM daily
    WINDOW w AS (PARTITION BY account, counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency, w.total AS exposure, CAST(w.all_charges AS INTEGER) AS charges,
    w.first_at AS since,
    CASE WHEN w.round_days >= $min_charges AND w.round_charges = w.all_charges
              AND w.first_day < c.day AND w.total >= $tier_warning THEN
        CASE WHEN w.total >= $tier_critical THEN 'critical'
             WHEN w.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until
FROM counted c JOIN windowed w USING (account, counterparty, day)
