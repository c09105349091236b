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
-- calibrate: $ratio ladder 4 6 8 12 16 24 32 48 64
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges since {since} {scope}, {exposure}, several times the usual spend, none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
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
daily AS (
    SELECT level, g_account, g_counterparty, g_initiator, day,
        sum(CASE WHEN explained_by IS NULL THEN amount END) AS spend,
        count(CASE WHEN explained_by IS NULL THEN 1 END) AS n_recent,
        min(CASE WHEN explained_by IS NULL THEN posted_at END) AS first_at,
        sum(amount) AS history_spend,
        count(*) AS n_history
    FROM candidates
    GROUP BY level, g_account, g_counterparty, g_initiator, day
),
spanned AS (   -- days of history actually behind each day (the group may be young)
    SELECT *, least($baseline_days - $lag_days,
                    day - $lag_days - min(day) OVER (
                        PARTITION BY level, g_account, g_counterparty, g_initiator)) AS history_span
    FROM daily
),
windowed AS (
    SELECT level, g_account, g_counterparty, g_initiator, day, history_span,
        coalesce(sum(spend) OVER recent, 0) AS spend,
        coalesce(sum(n_recent) OVER recent, 0) AS n_recent,
        min(first_at) OVER recent AS first_at,
        coalesce(sum(history_spend) OVER history, 0) AS history_spend,
        coalesce(sum(n_history) OVER history, 0) AS n_history
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
SELECT c.g_account AS account, c.g_counterparty AS counterparty, c.g_initiator AS initiator,
    c.txn_id, c.posted_at, c.day, c.amount, c.currency, CAST(d.excess AS DECIMAL(38,2)) AS exposure,
    CAST(d.n_recent AS INTEGER) AS charges, d.first_at AS since,
    CASE WHEN d.n_history >= $min_history AND d.history_span >= $min_history_days
              AND d.excess >= $tier_warning
              AND d.spend >= $ratio * d.expected THEN
        CASE WHEN d.excess >= $tier_critical THEN 'critical'
             WHEN d.excess >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + $window_days AS active_until
FROM candidates c
JOIN drift d
  ON c.level = d.level AND c.day = d.day
 AND c.g_account IS NOT DISTINCT FROM d.g_account
 AND c.g_counterparty IS NOT DISTINCT FROM d.g_counterparty
 AND c.g_initiator IS NOT DISTINCT FROM d.g_initiator
WHERE c.explained_by IS NULL
