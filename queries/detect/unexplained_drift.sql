-- name: unexplained_drift
-- finds: Unexplained spend that has drifted far above its own history, at three levels:
--   per account and payee, per payee across all accounts, and per initiator. The expected
--   spend comes from a year of history that ends $lag_days before each day, so a slow
--   theft cannot raise its own baseline; severity escalates with the money above it.
--   The history counts every charge, approved or not (what the group usually costs), and
--   the window only unexplained ones: approving a charge can only lower a drift, and
--   approving a payee's routine charges does not leave theft inside it without a baseline.
--   Payees and initiators without history are left to the new-payee detectors.
-- params:
--   $window_days    INTEGER  default 90     spend is summed over this many days
--   $baseline_days  INTEGER  default 365    length of the history
--   $lag_days       INTEGER  default 30     the history ends this many days before each day
--   $min_history    INTEGER  default 10     charges in the history needed before judging
--   $min_history_days INTEGER default 180   days of history needed before judging
--   $ratio          DOUBLE   default 8.0    window spend over expected spend needed to fire
--   $tier_warning   DECIMAL  default 10000  drift that fires at severity warning
--   $tier_high      DECIMAL  default 25000  drift that escalates to high
--   $tier_critical  DECIMAL  default 100000 drift that escalates to critical
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges since {since} {scope}, {exposure}, several times the usual spend, none of them approved

WITH levels(level) AS (VALUES ('account_payee'), ('payee'), ('initiator')),
keyed AS (
    SELECT c.*, l.level,
        CASE WHEN l.level = 'account_payee' THEN c.account END AS g_account,
        CASE WHEN l.level IN ('account_payee', 'payee') THEN c.counterparty END AS g_counterparty,
        CASE WHEN l.level = 'initiator' THEN c.initiator END AS g_initiator
    FROM charges c CROSS JOIN levels l
    WHERE c.amount > 0
),
possible AS (   -- a group whose unexplained spend in all is below the first tier never fires
    SELECT level, g_account, g_counterparty, g_initiator FROM keyed
    GROUP BY ALL
    HAVING count(*) > $min_history
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
),
candidates AS (
    SELECT k.* FROM keyed k
    SEMI JOIN possible p
      ON k.level = p.level
     AND k.g_account IS NOT DISTINCT FROM p.g_account
     AND k.g_counterparty IS NOT DISTINCT FROM p.g_counterparty
     AND k.g_initiator IS NOT DISTINCT FROM p.g_initiator
),
spanned AS (   -- days of history actually behind each day (the group may be young)
    SELECT *, least($baseline_days - $lag_days,
                    day - $lag_days - min(day) OVER (
                        PARTITION BY level, g_account, g_counterparty, g_initiator)) AS history_span
    FROM candidates
),
windowed AS (
    SELECT *,
        coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END) OVER recent, 0) AS spend,
        count(CASE WHEN explained_by IS NULL THEN 1 END) OVER recent AS n_recent,
        min(CASE WHEN explained_by IS NULL THEN posted_at END) OVER recent AS first_at,
        coalesce(sum(amount) OVER history, 0) AS history_spend,
        count(*) OVER history AS n_history
    FROM spanned
    WINDOW recent AS (PARTITION BY level, g_account, g_counterparty, g_initiator ORDER BY day
                      RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW),
           history AS (PARTITION BY level, g_account, g_counterparty, g_initiator ORDER BY day
                       RANGE BETWEEN $baseline_days PRECEDING AND $lag_days PRECEDING)
),
drift AS (
    SELECT *,
        spend - history_spend * $window_days / greatest(history_span, 1) AS excess,
        history_spend * $window_days / greatest(history_span, 1) AS expected
    FROM windowed
)
SELECT g_account AS account, g_counterparty AS counterparty, g_initiator AS initiator,
    txn_id, posted_at, day, amount, currency, CAST(excess AS DECIMAL(18,2)) AS exposure,
    CAST(n_recent AS INTEGER) AS charges, first_at AS since,
    CASE WHEN n_history >= $min_history AND history_span >= $min_history_days
              AND excess >= $tier_warning
              AND spend >= $ratio * expected THEN
        CASE WHEN excess >= $tier_critical THEN 'critical'
             WHEN excess >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $window_days AS active_until
FROM drift
WHERE explained_by IS NULL
