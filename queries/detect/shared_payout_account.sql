-- name: shared_payout_account
-- finds: One payout account (IBAN, PayPal, card) that receives money under several payee
--   names: the advisory's sign of one worker behind many "freelancers", or of payee names
--   that differ from the account holder.
-- params:
--   $window_days    INTEGER  default 365    names are compared over this many days
--   $tier_warning   DECIMAL  default 0      exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} payments since {since} to one payout account ({account}) under several payee names, {exposure}, none of them approved

WITH paid AS (
    SELECT *,
        min(counterparty) OVER w AS one_name,
        max(counterparty) OVER w AS other_name,
        count(*) OVER w AS n,
        sum(amount) OVER w AS total,
        min(posted_at) OVER w AS first_at
    FROM charges
    WHERE explained_by IS NULL AND amount > 0 AND counterparty_account IS NOT NULL
    WINDOW w AS (PARTITION BY counterparty_account ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT counterparty_account AS account, CAST(NULL AS VARCHAR) AS counterparty,
    CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day, amount, currency,
    total AS exposure, CAST(n AS INTEGER) AS charges, first_at AS since,
    CASE WHEN lower(one_name) <> lower(other_name) THEN
        CASE WHEN total >= $tier_critical THEN 'critical'
             WHEN total >= $tier_high THEN 'high'
             WHEN total >= $tier_warning THEN 'warning' END
    END AS severity,
    posted_at + $window_days AS active_until
FROM paid
