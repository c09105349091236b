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
-- returns: the detector event columns (see queries/scan/summarize.sql), for the groups
--   that fire.
-- sentence: {charges} charges since {since} {scope}, {exposure}, several times the usual spend, none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
-- Only groups that can fire get there. The drift of a day is at most the unexplained
-- spend of its window ($window_days before it and the day), and a window lies within two
-- consecutive spans of $window_days + 1 days: a group none of whose two consecutive spans
-- reaches the first tier never fires. On a ledger where every card pays thousands of
-- payees evenly no payee's group passes, and the windows are run over the cards' alone.
-- Each level is grouped by its own keys (account, counterparty and initiator are never
-- NULL in `charges`).
WITH payee_counted AS (   -- the groups' totals first (cheap): only those that pass are spanned
    SELECT counterparty FROM charges WHERE amount > 0
    GROUP BY counterparty
    HAVING count(*) > $min_history
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
),
payee_spans AS (
    SELECT c.counterparty, CAST(floor(c.day / ($window_days + 1)) AS INTEGER) AS span,
        coalesce(sum(CASE WHEN c.explained_by IS NULL THEN c.amount END), 0) AS spend
    FROM charges c SEMI JOIN payee_counted g USING (counterparty)
    WHERE c.amount > 0
    GROUP BY 1, 2
),
payee_groups AS (
    SELECT counterparty FROM (
        SELECT counterparty, sum(spend) OVER (
            PARTITION BY counterparty ORDER BY span
            RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_spans
        FROM payee_spans) w
    GROUP BY counterparty
    HAVING max(two_spans) >= $tier_warning
),
pair_counted AS (   -- a pair's totals and spans are at most its payee's: only the pairs of
                    -- passing payees are counted (where nearly every charge opens a pair,
                    -- grouping them all cost 0.7 s of CPU of an incremental scan at 10M rows)
    SELECT account, counterparty FROM charges SEMI JOIN payee_groups USING (counterparty)
    WHERE amount > 0
    GROUP BY account, counterparty
    HAVING count(*) > $min_history
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
),
pair_spans AS (
    SELECT c.account, c.counterparty, CAST(floor(c.day / ($window_days + 1)) AS INTEGER) AS span,
        coalesce(sum(CASE WHEN c.explained_by IS NULL THEN c.amount END), 0) AS spend
    FROM charges c SEMI JOIN pair_counted p USING (account, counterparty)
    WHERE c.amount > 0
    GROUP BY 1, 2, 3
),
pair_groups AS (
    SELECT account, counterparty FROM (
        SELECT account, counterparty, sum(spend) OVER (
            PARTITION BY account, counterparty ORDER BY span
            RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_spans
        FROM pair_spans) w
    GROUP BY account, counterparty
    HAVING max(two_spans) >= $tier_warning
),
initiator_counted AS (
    SELECT initiator FROM charges WHERE amount > 0
    GROUP BY initiator
    HAVING count(*) > $min_history
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
),
initiator_spans AS (
    SELECT c.initiator, CAST(floor(c.day / ($window_days + 1)) AS INTEGER) AS span,
        coalesce(sum(CASE WHEN c.explained_by IS NULL THEN c.amount END), 0) AS spend
    FROM charges c SEMI JOIN initiator_counted g USING (initiator)
    WHERE c.amount > 0
    GROUP BY 1, 2
),
initiator_groups AS (
    SELECT initiator FROM (
        SELECT initiator, sum(spend) OVER (
            PARTITION BY initiator ORDER BY span
            RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS two_spans
        FROM initiator_spans) w
    GROUP BY initiator
    HAVING max(two_spans) >= $tier_warning
),
candidates AS (   -- each charge once per level whose group may fire, by the columns read
                  -- below: the branches are stacked by position, and `c.*` beside a USING
                  -- join lists its columns in an order each engine chooses
    SELECT c.txn_id, c.posted_at, c.day, c.amount, c.currency, c.explained_by,
        'account_payee' AS level, c.account AS g_account,
        c.counterparty AS g_counterparty, CAST(NULL AS VARCHAR) AS g_initiator
    FROM charges c SEMI JOIN pair_groups g USING (account, counterparty)
    WHERE c.amount > 0
    UNION ALL
    SELECT c.txn_id, c.posted_at, c.day, c.amount, c.currency, c.explained_by,
        'payee' AS level, CAST(NULL AS VARCHAR) AS g_account,
        c.counterparty AS g_counterparty, CAST(NULL AS VARCHAR) AS g_initiator
    FROM charges c SEMI JOIN payee_groups g USING (counterparty)
    WHERE c.amount > 0
    UNION ALL
    SELECT c.txn_id, c.posted_at, c.day, c.amount, c.currency, c.explained_by,
        'initiator' AS level, CAST(NULL AS VARCHAR) AS g_account,
        CAST(NULL AS VARCHAR) AS g_counterparty, c.initiator AS g_initiator
    FROM charges c SEMI JOIN initiator_groups g USING (initiator)
    WHERE c.amount > 0
),
daily AS (
    SELECT level, g_account, g_counterparty, g_initiator, day,
        sum(CASE WHEN explained_by IS NULL THEN amount END) AS spend,
        count(CASE WHEN explained_by IS NULL THEN 1 END) AS n_recent,
        min(CASE WHEN explained_by IS NULL THEN posted_at END) AS first_at,
        sum(amount) AS history_spend,
        count(*) AS n_history,
        count(CASE WHEN explained_by IS NULL THEN 1 END) > 0 AS unexplained_day
    FROM candidates
    GROUP BY level, g_account, g_counterparty, g_initiator, day
),
windowed AS (
    SELECT level, g_account, g_counterparty, g_initiator, day, unexplained_day,
        -- days of history actually behind each day (the group may be young): its first
        -- day is the least so far in this order, so the windows below share one sort
        -- (a window over the whole group sorted its days once more: 0.7 s of CPU of an
        -- incremental scan of the dense 10M-row benchmark)
        least($baseline_days - $lag_days,
              day - $lag_days - min(day) OVER (
                  PARTITION BY level, g_account, g_counterparty, g_initiator ORDER BY day
                  ROWS UNBOUNDED PRECEDING)) AS history_span,
        coalesce(sum(spend) OVER recent, 0) AS spend,
        coalesce(sum(n_recent) OVER recent, 0) AS n_recent,
        min(first_at) OVER recent AS first_at,
        coalesce(sum(history_spend) OVER history, 0) AS history_spend,
        coalesce(sum(n_history) OVER history, 0) AS n_history
    FROM daily
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
),
judged AS (
    SELECT *,
        CASE WHEN n_history >= $min_history AND history_span >= $min_history_days
                  AND excess >= $tier_warning
                  AND spend >= $ratio * expected THEN
            CASE WHEN excess >= $tier_critical THEN 'critical'
                 WHEN excess >= $tier_high THEN 'high' ELSE 'warning' END
        END AS severity
    FROM drift
),
hot AS (   -- groups that fire on a day with an unexplained charge: only their charges are
           -- given back (the scan keeps no other group), so the days of the rest are never
           -- joined to their charges again (most of the work where every group is large)
    SELECT DISTINCT level, g_account, g_counterparty, g_initiator FROM judged
    WHERE severity IS NOT NULL AND unexplained_day
),
shown AS (
    SELECT j.* FROM judged j
    SEMI JOIN hot h
      ON j.level = h.level
     AND j.g_account IS NOT DISTINCT FROM h.g_account
     AND j.g_counterparty IS NOT DISTINCT FROM h.g_counterparty
     AND j.g_initiator IS NOT DISTINCT FROM h.g_initiator
)
SELECT c.g_account AS account, c.g_counterparty AS counterparty, c.g_initiator AS initiator,
    c.txn_id, c.posted_at, c.day, c.amount, c.currency, CAST(d.excess AS DECIMAL(38,2)) AS exposure,
    CAST(d.n_recent AS INTEGER) AS charges, d.first_at AS since, d.severity,
    c.posted_at + $window_days AS active_until
FROM candidates c
JOIN shown d
  ON c.level = d.level AND c.day = d.day
 AND c.g_account IS NOT DISTINCT FROM d.g_account
 AND c.g_counterparty IS NOT DISTINCT FROM d.g_counterparty
 AND c.g_initiator IS NOT DISTINCT FROM d.g_initiator
WHERE c.explained_by IS NULL
