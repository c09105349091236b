-- name: new_payee_rotation
-- finds: One initiator (a card, a user, an API key) spreading sizeable charges of similar
--   size across several payees that are new to it, so that no single payee looks busy.
--   Charges are counted once per day: a trip's or an order's several shops on one day
--   are one errand.
-- params:
--   $new_days           INTEGER  default 120    days a payee counts as new for the initiator
--   $window_days        INTEGER  default 60     charges are counted over this many days
--   $min_charge         DECIMAL  default 500    smallest charge that counts
--   $min_charges        INTEGER  default 3      charges needed to fire, each on a different day
--   $similarity         DOUBLE   default 0.3    largest spread of the amounts, as a share of the largest
--   $max_other_accounts INTEGER  default 0      accounts that may have used a payee before
--   $tier_warning       DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high          DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical      DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_charge quantile 0.5 0.75 0.9 0.95 0.97 0.98 0.99 and $min_charges ladder 3 4 6 8 12
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges of similar size by initiator {initiator} to several payees new to it since {since}, {exposure}, none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
-- The initiator's first day with each payee comes from temp table (or view)
-- initiator_facts, joined only for the charges that pass the other tests: joining it to
-- every charge when `charges` was built cost 0.6 s of CPU at 2.7M charges.
WITH counted AS (
    SELECT c.* FROM charges c
    JOIN initiator_facts i ON i.initiator = c.initiator AND i.counterparty = c.counterparty
    WHERE c.explained_by IS NULL
      AND abs(c.amount) >= $min_charge
      AND c.day <= i.initiator_payee_first_day + $new_days
      AND c.payee_accounts_before <= $max_other_accounts
),
daily AS (
    SELECT initiator, day,
        count(CASE WHEN amount > 0 THEN 1 END) AS charged,
        count(CASE WHEN amount < 0 THEN 1 END) AS refunded,
        sum(amount) AS total,
        min(CASE WHEN amount > 0 THEN amount END) AS low,
        max(amount) AS high,
        min(counterparty) AS some_payee,
        max(counterparty) AS other_payee,
        min(posted_at) AS first_at
    FROM counted
    GROUP BY initiator, day
),
windowed AS (
    SELECT initiator, day,
        CAST(sum(charged) OVER w - sum(refunded) OVER w AS BIGINT) AS net_charges,
        count(CASE WHEN charged > 0 THEN 1 END) OVER w AS charge_days,
        sum(total) OVER w AS total,
        min(low) OVER w AS low,
        max(high) OVER w AS high,
        min(some_payee) OVER w AS some_payee,
        max(other_payee) OVER w AS other_payee,
        min(day) OVER w AS first_day,
        min(first_at) OVER w AS first_at
    FROM daily
    WINDOW w AS (PARTITION BY initiator ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS counterparty, c.initiator,
    c.txn_id, c.posted_at, c.day, c.amount, c.currency, w.total AS exposure,
    w.net_charges AS charges, w.first_at AS since,
    CASE WHEN c.amount > 0 AND w.net_charges >= $min_charges AND w.charge_days >= $min_charges
              AND w.total >= $tier_warning AND w.some_payee < w.other_payee AND w.first_day < c.day
              AND w.high - w.low <= $similarity * w.high THEN
        CASE WHEN w.total >= $tier_critical THEN 'critical'
             WHEN w.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until
FROM counted c JOIN windowed w USING (initiator, day)
WHERE c.amount > 0
