-- name: payee_many_accounts
-- finds: A payee new to the whole organisation that is charged from several accounts
--   within weeks: one freelancer's payee slipped onto many cards or budgets at once.
--   Charges are counted once per day: colleagues booking one event on one day are one
--   purchase (on the US cards they were most honest runs of four or more).
-- params:
--   $new_days       INTEGER  default 120    days a payee counts as new to the organisation
--   $window_days    INTEGER  default 60     charges are counted over this many days
--   $min_charge     DECIMAL  default 500    smallest charge that counts
--   $min_charges    INTEGER  default 2      charges needed to fire, each on a different day
--   $similarity     DOUBLE   default 0.35   largest spread of the amounts, as a share of the largest
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_charge quantile 0.5 0.75 0.9 0.95 0.97 0.98 0.99 and $min_charges ladder 2 3 4 6 8
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from several accounts since {since}, {exposure}; the payee is new to the organisation and none of the charges is approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND abs(amount) >= $min_charge
      AND day <= payee_first_day + $new_days
),
daily AS (
    SELECT counterparty, day,
        count(CASE WHEN amount > 0 THEN 1 END) AS charged,
        count(CASE WHEN amount < 0 THEN 1 END) AS refunded,
        sum(amount) AS total,
        min(CASE WHEN amount > 0 THEN amount END) AS low,
        max(amount) AS high,
        min(account) AS some_account,
        max(account) AS other_account,
        min(posted_at) AS first_at
    FROM counted
    GROUP BY counterparty, day
),
windowed AS (
    SELECT counterparty, day,
        CAST(sum(charged) OVER w - sum(refunded) OVER w AS BIGINT) AS net_charges,
        count(CASE WHEN charged > 0 THEN 1 END) OVER w AS charge_days,
        sum(total) OVER w AS total,
        min(low) OVER w AS low,
        max(high) OVER w AS high,
        min(some_account) OVER w AS some_account,
        max(other_account) OVER w AS other_account,
        min(first_at) OVER w AS first_at,
        min(day) OVER w AS first_day
    FROM daily
    WINDOW w AS (PARTITION BY counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT CAST(NULL AS VARCHAR) AS account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator,
    c.txn_id, c.posted_at, c.day, c.amount, c.currency, w.total AS exposure,
    w.net_charges AS charges, w.first_at AS since,
    CASE WHEN c.amount > 0 AND w.net_charges >= $min_charges AND w.charge_days >= $min_charges
              AND w.total >= $tier_warning AND w.some_account < w.other_account
              AND w.first_day < c.day   -- on different days: colleagues booking one event are not a pattern
              AND w.high - w.low <= $similarity * w.high THEN
        CASE WHEN w.total >= $tier_critical THEN 'critical'
             WHEN w.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until
FROM counted c JOIN windowed w USING (counterparty, day)
WHERE c.amount > 0
