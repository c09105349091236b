-- name: payee_rate_change
-- finds: Theft hidden in the cadence of a payee the account already uses: charges at the
--   usual size, but several times as often as this account's own history with the payee
--   (a 120-a-month subscription now charged every few days). Each day the pair's charges
--   over a short and a long recent window are set against its baseline over the months
--   before the window: the mean rate, and the busiest window of the same length (so a
--   payee that is busy every December, or whose busy weeks come and go, stays quiet).
--   Everything is relative to the pair's history except the money tiers: the money above
--   what the baseline rate would have cost must pass $tier_warning. A pair with little
--   history (too few charges or days) is not judged. The baseline counts every charge,
--   approved or not; only unexplained charges count in the recent windows.
-- params:
--   $short_days     INTEGER  default 30     the short recent window, in days (fast thefts)
--   $long_days      INTEGER  default 120    the long recent window, in days (slow thefts)
--   $baseline_days  INTEGER  default 395    the baseline ends where each window starts and
--                                            begins this many days before the charge (over a
--                                            year, so last year's busy season is in it)
--   $min_history    INTEGER  default 5      baseline charges needed before the pair is judged
--   $min_baseline_days INTEGER default 90   days of baseline (from the pair's first charge) needed
--   $ratio          DOUBLE   default 3.0    recent charges over what the baseline rate expects
--   $peak_ratio     DOUBLE   default 1.5    recent charges over the busiest such window of the baseline
--   $min_charges    INTEGER  default 4      recent charges needed to fire
--   $min_days       INTEGER  default 5      days with charges in the recent window needed to fire
--   $similarity     DOUBLE   default 0.2    largest spread of the recent amounts, as a share of the
--                                            largest (a thief repeats the usual charge; a shop's
--                                            busy month is of all sizes)
--   $max_other_accounts INTEGER default 1000000  payees more accounts used before this one
--                                            first did are not judged (no limit by default)
--   $tier_warning   DECIMAL  default 1000   money above the baseline rate that fires at warning
--   $tier_high      DECIMAL  default 5000   excess that escalates to high
--   $tier_critical  DECIMAL  default 25000  excess that escalates to critical
-- calibrate: $ratio ladder 2 3 4 6 8 12 16 24 32
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure} above its usual rate, far more often than this account usually pays this payee, none of them approved

-- Windows run over one row per pair and day (a RANGE frame over many charges of one day
-- costs time quadratic in them). All the sums compared are DECIMAL money or whole counts
-- multiplied out (no division), so multiplying every amount and tier by k gives the same
-- alerts.
WITH possible AS (   -- a pair without enough history or unexplained money can never fire
    SELECT account, counterparty FROM charges
    WHERE amount > 0
    GROUP BY account, counterparty
    HAVING count(*) > $min_history + $min_charges
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
       AND min(payee_accounts_before) <= $max_other_accounts
),
daily AS (
    SELECT c.account, c.counterparty, c.day, min(c.pair_first_day) AS pair_first_day,
        count(*) AS n_all, sum(c.amount) AS total_all,
        count(CASE WHEN c.explained_by IS NULL THEN 1 END) AS n,
        coalesce(sum(CASE WHEN c.explained_by IS NULL THEN c.amount END), 0) AS total,
        -- wide enough that the spread test cannot overflow at the largest amounts
        CAST(min(CASE WHEN c.explained_by IS NULL THEN c.amount END) AS DECIMAL(38, 2)) AS low,
        CAST(max(CASE WHEN c.explained_by IS NULL THEN c.amount END) AS DECIMAL(38, 2)) AS high
    FROM charges c SEMI JOIN possible p USING (account, counterparty)
    WHERE c.amount > 0
    GROUP BY c.account, c.counterparty, c.day
),
rolling AS (         -- each day's recent windows, and the same windows over every charge
    SELECT *,
        sum(n) OVER short_w AS n_short, sum(total) OVER short_w AS total_short,
        count(CASE WHEN n > 0 THEN 1 END) OVER short_w AS days_short,
        min(CASE WHEN n > 0 THEN day END) OVER short_w AS first_short,
        sum(n) OVER long_w AS n_long, sum(total) OVER long_w AS total_long,
        count(CASE WHEN n > 0 THEN 1 END) OVER long_w AS days_long,
        min(CASE WHEN n > 0 THEN day END) OVER long_w AS first_long,
        min(low) OVER short_w AS low_short, max(high) OVER short_w AS high_short,
        min(low) OVER long_w AS low_long, max(high) OVER long_w AS high_long,
        sum(n_all) OVER short_w AS all_short, sum(n_all) OVER long_w AS all_long
    FROM daily
    WINDOW short_w AS (PARTITION BY account, counterparty ORDER BY day
                       RANGE BETWEEN $short_days - 1 PRECEDING AND CURRENT ROW),
           long_w AS (PARTITION BY account, counterparty ORDER BY day
                      RANGE BETWEEN $long_days - 1 PRECEDING AND CURRENT ROW)
),
based AS (           -- the baselines: what came before each window, within $baseline_days
    SELECT *,
        coalesce(sum(n_all) OVER short_base, 0) AS base_n_short,
        coalesce(sum(total_all) OVER short_base, 0) AS base_total_short,
        coalesce(sum(n_all) OVER long_base, 0) AS base_n_long,
        coalesce(sum(total_all) OVER long_base, 0) AS base_total_long,
        coalesce(max(all_short) OVER short_peak, 0) AS peak_short,
        coalesce(max(all_long) OVER long_peak, 0) AS peak_long,
        -- days the baselines span: from their start, or the pair's first charge if later
        least($baseline_days - $short_days, day - $short_days + 1 - pair_first_day) AS span_short,
        least($baseline_days - $long_days, day - $long_days + 1 - pair_first_day) AS span_long
    FROM rolling
    WINDOW short_base AS (PARTITION BY account, counterparty ORDER BY day
                          RANGE BETWEEN $baseline_days - 1 PRECEDING AND $short_days PRECEDING),
           long_base AS (PARTITION BY account, counterparty ORDER BY day
                         RANGE BETWEEN $baseline_days - 1 PRECEDING AND $long_days PRECEDING),
           -- the busiest window lying wholly inside the baseline
           short_peak AS (PARTITION BY account, counterparty ORDER BY day
                          RANGE BETWEEN $baseline_days - $short_days PRECEDING
                                    AND $short_days PRECEDING),
           long_peak AS (PARTITION BY account, counterparty ORDER BY day
                         RANGE BETWEEN $baseline_days - $long_days PRECEDING
                                   AND $long_days PRECEDING)
),
judged AS (          -- excess = recent money - baseline money * window / span, times span
    SELECT *,
        n > 0 AND span_short >= $min_baseline_days AND base_n_short >= $min_history
            AND n_short >= $min_charges AND days_short >= $min_days
            AND n_short * span_short >= $ratio * base_n_short * $short_days
            AND n_short >= $peak_ratio * peak_short
            AND high_short - low_short <= CAST($similarity AS DECIMAL(18, 4)) * high_short
            AND total_short * span_short - base_total_short * $short_days
                >= $tier_warning * span_short AS short_fires,
        n > 0 AND span_long >= $min_baseline_days AND base_n_long >= $min_history
            AND n_long >= $min_charges AND days_long >= $min_days
            AND n_long * span_long >= $ratio * base_n_long * $long_days
            AND n_long >= $peak_ratio * peak_long
            AND high_long - low_long <= CAST($similarity AS DECIMAL(18, 4)) * high_long
            AND total_long * span_long - base_total_long * $long_days
                >= $tier_warning * span_long AS long_fires
    FROM based
),
chosen AS (          -- the window that fires (the long one when both do: more evidence)
    SELECT account, counterparty, day,
        CASE WHEN long_fires THEN n_long ELSE n_short END AS n_recent,
        CASE WHEN long_fires THEN first_long ELSE first_short END AS first_day,
        CASE WHEN long_fires THEN total_long ELSE total_short END AS total_recent,
        CASE WHEN long_fires THEN base_total_long ELSE base_total_short END AS base_total,
        CASE WHEN long_fires THEN span_long ELSE span_short END AS span,
        CASE WHEN long_fires THEN $long_days ELSE $short_days END AS window_days,
        short_fires OR long_fires AS fires
    FROM judged
    WHERE n > 0
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency,
    CASE WHEN w.span > 0 THEN      -- the money above what the baseline rate would cost
        CAST(w.total_recent - CAST(w.base_total AS DECIMAL(38, 6)) * w.window_days / w.span
             AS DECIMAL(38, 2))
    ELSE w.total_recent END AS exposure,
    CAST(w.n_recent AS INTEGER) AS charges,
    c.posted_at - CAST(c.day - w.first_day AS INTEGER) AS since,
    CASE WHEN w.fires THEN
        CASE WHEN w.total_recent * w.span - w.base_total * w.window_days
                  >= $tier_critical * w.span THEN 'critical'
             WHEN w.total_recent * w.span - w.base_total * w.window_days
                  >= $tier_high * w.span THEN 'high'
             ELSE 'warning' END
    END AS severity,
    c.posted_at + $short_days AS active_until
FROM charges c JOIN chosen w USING (account, counterparty, day)
WHERE c.amount > 0 AND c.explained_by IS NULL
