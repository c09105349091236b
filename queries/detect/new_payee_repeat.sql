-- name: new_payee_repeat
-- finds: A payee new to an account that, within its first weeks, receives several
--   sizeable charges of similar amounts: the advisory case (about 30 charges of about
--   1,667 to a freelancer's new payee). Refunds from the payee cancel charges.
-- params:
--   $new_days       INTEGER  default 120    days a payee counts as new for the account
--   $window_days    INTEGER  default 60     charges are counted over this many days
--   $min_charge     DECIMAL  default 800    smallest charge that counts
--   $min_charges    INTEGER  default 2      charges needed to fire
--   $similarity     DOUBLE   default 0.15   largest spread of the amounts, as a share of the largest
--   $max_other_accounts INTEGER default 1   accounts that may have used the payee before (a shop many
--                                            accounts use is not a freelancer's new payee)
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges of similar size to '{counterparty}' from account {account} since {since}, {exposure}; the payee is new to this account and none of the charges is approved

WITH counted AS (
    SELECT * FROM charges
    WHERE explained_by IS NULL
      AND abs(amount) >= $min_charge
      AND day <= pair_first_day + $new_days
      AND payee_accounts_before <= $max_other_accounts
),
windowed AS (
    SELECT *,
        count(CASE WHEN amount > 0 THEN 1 END) OVER w
            - count(CASE WHEN amount < 0 THEN 1 END) OVER w AS net_charges,
        sum(amount) OVER w AS total,
        min(CASE WHEN amount > 0 THEN amount END) OVER w AS low,
        max(amount) OVER w AS high,
        min(posted_at) OVER w AS first_at,
        min(day) OVER w AS first_day
    FROM counted
    WINDOW w AS (PARTITION BY account, counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, total AS exposure, net_charges AS charges, first_at AS since,
    CASE WHEN amount > 0 AND net_charges >= $min_charges AND total >= $tier_warning
              AND first_day < day  -- on different days: one order split in two is not a pattern
              AND high - low <= $similarity * high THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $window_days AS active_until
FROM windowed
WHERE amount > 0
