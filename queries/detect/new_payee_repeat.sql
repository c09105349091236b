-- name: new_payee_repeat
-- finds: A payee new to an account that, within its first weeks, receives several
--   sizeable charges of similar amounts: the advisory case (about 30 charges of about
--   1,667 to a freelancer's new payee). Refunds from the payee cancel charges. Charges
--   are counted once per day: several alike on one day (a course booked for five people,
--   units of one order) are one purchase, and on the US cards they were most of the
--   honest repeats of four or more.
-- params:
--   $new_days       INTEGER  default 120    days a payee counts as new for the account
--   $window_days    INTEGER  default 60     charges are counted over this many days
--   $min_charge     DECIMAL  default 800    smallest charge that counts
--   $min_charges    INTEGER  default 2      charges needed to fire, each on a different day
--   $similarity     DOUBLE   default 0.15   largest spread of the amounts, as a share of the largest
--   $max_other_accounts INTEGER default 1   accounts that may have used the payee before (a shop many
--                                            accounts use is not a freelancer's new payee)
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_charge quantile 0.5 0.75 0.9 0.95 0.97 0.98 0.99 and $min_charges ladder 2 3 4 6 8
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges of similar size to '{counterparty}' from account {account} since {since}, {exposure}; the payee is new to this account and none of the charges is approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND abs(amount) >= $min_charge
      AND day <= pair_first_day + $new_days
      AND payee_accounts_before <= $max_other_accounts
),
daily AS (
    SELECT account, counterparty, day,
        count(CASE WHEN amount > 0 THEN 1 END) AS charged,
        count(CASE WHEN amount < 0 THEN 1 END) AS refunded,
        sum(amount) AS total,
        min(CASE WHEN amount > 0 THEN amount END) AS low,
        max(amount) AS high,
        min(posted_at) AS first_at
    FROM counted
    GROUP BY account, counterparty, day
),
windowed AS (
    SELECT account, counterparty, day,
        CAST(sum(charged) OVER w - sum(refunded) OVER w AS BIGINT) AS net_charges,
        count(CASE WHEN charged > 0 THEN 1 END) OVER w AS charge_days,
        sum(total) OVER w AS total,
        min(low) OVER w AS low,
        max(high) OVER w AS high,
        min(first_at) OVER w AS first_at,
        min(day) OVER w AS first_day
    FROM daily
    WINDOW w AS (PARTITION BY account, counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency, w.total AS exposure, w.net_charges AS charges,
    w.first_at AS since,
    CASE WHEN c.amount > 0 AND w.net_charges >= $min_charges AND w.charge_days >= $min_charges
              AND w.total >= $tier_warning
              AND w.first_day < c.day  -- on different days: one order split in two is not a pattern
              AND w.high - w.low <= $similarity * w.high THEN
        CASE WHEN w.total >= $tier_critical THEN 'critical'
             WHEN w.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until
FROM counted c JOIN windowed w USING (account, counterparty, day)
WHERE c.amount > 0
