-- name: top_drift_initiators
-- finds: Initiators (cards, users, API keys) ranked by unexplained drift: what they paid
--   out in the last $window_days up to $as_of, less what the same length of time cost on
--   average over the $baseline_days before it, counting only charges no authorization
--   explains (payee, account, validity and amount within tolerance; cadence is not applied
--   here). The initiator twin of queries/audit/top_drift_payees.sql.
-- params:
--   $as_of          DATE     default NULL  last day of the window (NULL: the latest posting)
--   $window_days    INTEGER  default 90    length of the recent window
--   $baseline_days  INTEGER  default 365   length of the history before it
--   $limit          INTEGER  default 50    how many initiators
-- returns: initiator, recent_charges, recent_spend, baseline_spend, expected_spend,
--   drift, ratio, payees.

WITH bounds AS (
    SELECT coalesce(CAST($as_of AS DATE), (SELECT max(posted_at) FROM transactions)) AS as_of
),
rules AS (
    SELECT *, replace(replace(replace(lower(trim(payee)), '%', '\%'), '_', '\_'), '*', '%') AS pat
    FROM authorizations
),
unexplained AS (
    SELECT t.*
    FROM transactions t, bounds b
    WHERE t.amount > 0 AND t.initiator IS NOT NULL
      AND t.posted_at > b.as_of - ($window_days + $baseline_days) AND t.posted_at <= b.as_of
      AND NOT EXISTS (
        SELECT 1 FROM rules r
        WHERE lower(trim(coalesce(t.counterparty, ''))) LIKE r.pat ESCAPE '\'
          AND (r.account IS NULL OR r.account = t.account)
          AND (r.valid_from IS NULL OR t.posted_at >= r.valid_from)
          AND (r.valid_to IS NULL OR t.posted_at <= r.valid_to)
          AND (r.expected_amount IS NULL OR abs(t.amount - r.expected_amount) <= r.tolerance))
),
per_initiator AS (
    SELECT u.initiator,
           count(*) FILTER (WHERE u.posted_at > b.as_of - $window_days) AS recent_charges,
           coalesce(sum(u.amount) FILTER (WHERE u.posted_at > b.as_of - $window_days), 0) AS recent_spend,
           coalesce(sum(u.amount) FILTER (WHERE u.posted_at <= b.as_of - $window_days), 0) AS baseline_spend,
           count(DISTINCT u.counterparty) FILTER (WHERE u.posted_at > b.as_of - $window_days) AS payees
    FROM unexplained u, bounds b
    GROUP BY u.initiator
)
SELECT initiator, recent_charges, recent_spend, baseline_spend,
       CAST(baseline_spend * $window_days / $baseline_days AS DECIMAL(38,2)) AS expected_spend,
       CAST(recent_spend - baseline_spend * $window_days / $baseline_days AS DECIMAL(38,2)) AS drift,
       round(recent_spend / nullif(baseline_spend * $window_days / $baseline_days, 0), 2) AS ratio,
       payees
FROM per_initiator
WHERE recent_charges > 0
ORDER BY drift DESC, initiator
LIMIT $limit;
