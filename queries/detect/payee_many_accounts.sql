-- name: payee_many_accounts
-- finds: A payee new to the whole organisation that is charged from several accounts
--   within weeks: one freelancer's payee slipped onto many cards or budgets at once.
-- params:
--   $new_days       INTEGER  default 120    days a payee counts as new to the organisation
--   $window_days    INTEGER  default 60     charges are counted over this many days
--   $min_charge     DECIMAL  default 500    smallest charge that counts
--   $min_charges    INTEGER  default 2      charges needed to fire
--   $similarity     DOUBLE   default 0.35   largest spread of the amounts, as a share of the largest
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from several accounts since {since}, {exposure}; the payee is new to the organisation and none of the charges is approved

WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND abs(amount) >= $min_charge
      AND day <= payee_first_day + $new_days
),
windowed AS (
    SELECT *,
        count(CASE WHEN amount > 0 THEN 1 END) OVER w
            - count(CASE WHEN amount < 0 THEN 1 END) OVER w AS net_charges,
        sum(amount) OVER w AS total,
        min(CASE WHEN amount > 0 THEN amount END) OVER w AS low,
        max(amount) OVER w AS high,
        min(account) OVER w AS some_account,
        max(account) OVER w AS other_account,
        min(posted_at) OVER w AS first_at,
        min(day) OVER w AS first_day
    FROM counted
    WINDOW w AS (PARTITION BY counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT CAST(NULL AS VARCHAR) AS account, counterparty, CAST(NULL AS VARCHAR) AS initiator,
    txn_id, posted_at, day, amount, currency, total AS exposure, net_charges AS charges,
    first_at AS since,
    CASE WHEN amount > 0 AND net_charges >= $min_charges AND total >= $tier_warning
              AND some_account < other_account
              AND first_day < day   -- on different days: colleagues booking one event are not a pattern
              AND high - low <= $similarity * high THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $window_days AS active_until
FROM windowed
WHERE amount > 0
