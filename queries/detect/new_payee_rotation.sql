-- name: new_payee_rotation
-- finds: One initiator (a card, a user, an API key) spreading sizeable charges of similar
--   size across several payees that are new to it, so that no single payee looks busy.
-- params:
--   $new_days           INTEGER  default 120    days a payee counts as new for the initiator
--   $window_days        INTEGER  default 60     charges are counted over this many days
--   $min_charge         DECIMAL  default 500    smallest charge that counts
--   $min_charges        INTEGER  default 3      charges needed to fire
--   $similarity         DOUBLE   default 0.3    largest spread of the amounts, as a share of the largest
--   $max_other_accounts INTEGER  default 0      accounts that may have used a payee before
--   $tier_warning       DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high          DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical      DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges of similar size by initiator {initiator} to several payees new to it since {since}, {exposure}, none of them approved

WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND abs(amount) >= $min_charge
      AND day <= initiator_payee_first_day + $new_days
      AND payee_accounts_before <= $max_other_accounts
),
windowed AS (
    SELECT *,
        count(CASE WHEN amount > 0 THEN 1 END) OVER w
            - count(CASE WHEN amount < 0 THEN 1 END) OVER w AS net_charges,
        sum(amount) OVER w AS total,
        min(CASE WHEN amount > 0 THEN amount END) OVER w AS low,
        max(amount) OVER w AS high,
        min(counterparty) OVER w AS some_payee,
        max(counterparty) OVER w AS other_payee,
        min(day) OVER w AS first_day,
        min(posted_at) OVER w AS first_at
    FROM counted
    WINDOW w AS (PARTITION BY initiator ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS counterparty, initiator,
    txn_id, posted_at, day, amount, currency, total AS exposure, net_charges AS charges,
    first_at AS since,
    CASE WHEN amount > 0 AND net_charges >= $min_charges AND total >= $tier_warning
              AND some_payee < other_payee AND first_day < day
              AND high - low <= $similarity * high THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $window_days AS active_until
FROM windowed
WHERE amount > 0
