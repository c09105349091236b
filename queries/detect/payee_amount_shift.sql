-- name: payee_amount_shift
-- finds: Theft hidden inside a payee the account already uses: charges far above what this
--   account usually pays this payee, measured with a CUSUM against a baseline that ends
--   $lag_days before each charge, so a slow theft cannot teach the baseline to accept it.
--   One large charge alone does not fire (each charge adds at most z_cap - k): it takes a run.
--   A payee the account paid often over a year ago, but not since, is judged by the
--   account's habits. The baseline counts every charge, approved or not (approving a
--   payee's routine charges must not leave theft inside it unjudged); only unexplained
--   charges add to the CUSUM.
-- params:
--   $baseline_days  INTEGER  default 365    length of the baseline
--   $lag_days       INTEGER  default 30     the baseline ends this many days before each charge
--   $min_history    INTEGER  default 5      baseline charges needed before the payee is judged
--   $sd_floor_share DOUBLE   default 0.5    smallest spread, as a share of the baseline mean
--   $k              DOUBLE   default 3.0    allowance per charge, in spreads
--   $z_cap          DOUBLE   default 6.0    most one charge can add to the CUSUM
--   $step_floor     DOUBLE   default -1.0   most one ordinary charge can take away (so the
--                                            payee's usual charges in between do not hide a run)
--   $h              DOUBLE   default 5.0    CUSUM level that fires
--   $min_excess     DECIMAL  default 1000   money above the baseline mean needed to fire
--   $quiet_days     INTEGER  default 180    a finding stays open this long after its last charge
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $h ladder 3 4 5 7 10 14 20 28 40 80
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure}, far above what this account usually pays this payee, none of them approved

WITH possible AS (   -- a pair without enough history or unexplained money can never fire
    SELECT account, counterparty FROM charges
    WHERE amount > 0
    GROUP BY account, counterparty
    HAVING count(*) > $min_history
       AND coalesce(sum(CASE WHEN explained_by IS NULL THEN amount END), 0) >= $tier_warning
),
-- The baselines are windows over one row per group and day (a RANGE frame over many charges
-- of one day costs time quadratic in them): each day's count, sum and squared deviations,
-- the latter taken from the group's overall mean so that adding them loses no precision.
account_days AS (
    SELECT c.account, c.day, count(*) AS n, sum(c.amount) AS total,
        var_pop(c.amount) * count(*) AS m2
    FROM charges c SEMI JOIN (SELECT DISTINCT account FROM possible) a USING (account)
    WHERE c.amount > 0
    GROUP BY c.account, c.day
),
account_spread AS (
    SELECT account, day, n, total, m2 + n * power(CAST(total AS DOUBLE) / n - ref, 2) AS q, ref
    FROM (SELECT *, CAST(sum(total) OVER (PARTITION BY account) AS DOUBLE)
                    / sum(n) OVER (PARTITION BY account) AS ref
          FROM account_days) d
),
account_sums AS (   -- the account's habits, over all its payees
    SELECT account, day, ref,
        sum(n) OVER account_history AS n,
        CAST(sum(total) OVER account_history * 100 AS DOUBLE)
            / (sum(n) OVER account_history * 100) AS mean,
        sum(q) OVER account_history / sum(n) OVER account_history AS q
    FROM account_spread
    WINDOW account_history AS (PARTITION BY account ORDER BY day
                               RANGE BETWEEN $baseline_days PRECEDING AND $lag_days PRECEDING)
),
account_baselines AS (
    SELECT account, day, mean AS account_mean,
        sqrt(greatest(q - power(mean - ref, 2), 0)) AS account_sd,
        coalesce(n, 0) AS account_n
    FROM account_sums
),
pair_days AS (
    SELECT c.account, c.counterparty, c.day, count(*) AS n, sum(c.amount) AS total,
        var_pop(c.amount) * count(*) AS m2
    FROM charges c SEMI JOIN possible p USING (account, counterparty)
    WHERE c.amount > 0
    GROUP BY c.account, c.counterparty, c.day
),
pair_spread AS (
    SELECT account, counterparty, day, n, total,
        m2 + n * power(CAST(total AS DOUBLE) / n - ref, 2) AS q, ref
    FROM (SELECT *, CAST(sum(total) OVER (PARTITION BY account, counterparty) AS DOUBLE)
                    / sum(n) OVER (PARTITION BY account, counterparty) AS ref
          FROM pair_days) d
),
pair_sums AS (
    SELECT account, counterparty, day, ref,
        sum(n) OVER pair_history AS n,
        CAST(sum(total) OVER pair_history * 100 AS DOUBLE)
            / (sum(n) OVER pair_history * 100) AS mean,
        sum(q) OVER pair_history / sum(n) OVER pair_history AS q,
        sum(n) OVER pair_ever AS ever_n
    FROM pair_spread
    WINDOW pair_history AS (PARTITION BY account, counterparty ORDER BY day
                            RANGE BETWEEN $baseline_days PRECEDING AND $lag_days PRECEDING),
           pair_ever AS (PARTITION BY account, counterparty ORDER BY day
                         RANGE BETWEEN UNBOUNDED PRECEDING AND $lag_days PRECEDING)
),
baselines AS (
    SELECT c.*, a.account_mean, a.account_sd, a.account_n,
        p.mean AS pair_mean,
        sqrt(greatest(p.q - power(p.mean - p.ref, 2), 0)) AS pair_sd,
        coalesce(p.n, 0) AS pair_n,
        coalesce(p.ever_n, 0) AS pair_ever_n
    FROM charges c
    JOIN pair_sums p USING (account, counterparty, day)
    JOIN account_baselines a USING (account, day)
    WHERE c.amount > 0
),
judged AS (   -- a payee the account used often long ago, but not lately, is judged by the account's habits
    SELECT *,
        CASE WHEN pair_n >= $min_history THEN pair_mean ELSE account_mean END AS base_mean,
        CASE WHEN pair_n >= $min_history THEN pair_sd ELSE account_sd END AS base_sd,
        CASE WHEN pair_n >= $min_history THEN pair_n
             WHEN pair_ever_n >= $min_history THEN account_n ELSE 0 END AS base_n
    FROM baselines
),
scored AS (
    SELECT *,
        -- the spread's floors are shares of the mean, never an amount of money (a floor
        -- of 1.00 took over below a mean of 2: the same run in cents did not fire); the
        -- millionth keeps the division defined when sd_floor_share is set to 0
        greatest($step_floor, least($z_cap, (amount - base_mean)
              / greatest(base_sd, $sd_floor_share * base_mean, 0.000001 * base_mean)) - $k)
            AS step,
        row_number() OVER (PARTITION BY account, counterparty ORDER BY day, txn_id) AS seq
    FROM judged
    WHERE base_n >= $min_history AND explained_by IS NULL
),
summed AS (
    SELECT *,
        sum(step) OVER run AS c,
        sum(amount) OVER run AS cum_amount,
        sum(amount - base_mean) OVER run AS cum_excess
    FROM scored
    WINDOW run AS (PARTITION BY account, counterparty ORDER BY seq ROWS UNBOUNDED PRECEDING)
),
floored AS (   -- CUSUM without recursion: S = C - min(0, lowest C so far)
    SELECT *,
        least(0, min(c) OVER run) AS c_floor
    FROM summed
    WINDOW run AS (PARTITION BY account, counterparty ORDER BY seq ROWS UNBOUNDED PRECEDING)
),
runs AS (      -- the current run starts after the last row where S was zero; its sums
               -- are taken there (cum_excess can fall, so not the largest at any reset)
    SELECT *,
        c - c_floor AS s,
        coalesce(max(CASE WHEN c = c_floor THEN seq END) OVER run, 0) AS reset_seq,
        coalesce(last_value(CASE WHEN c = c_floor THEN cum_amount END IGNORE NULLS) OVER run,
                 0) AS reset_amount,
        coalesce(last_value(CASE WHEN c = c_floor THEN cum_excess END IGNORE NULLS) OVER run,
                 0) AS reset_excess
    FROM floored
    WINDOW run AS (PARTITION BY account, counterparty ORDER BY seq ROWS UNBOUNDED PRECEDING)
),
evidence AS (
    SELECT *,
        cum_amount - reset_amount AS run_amount,
        cum_excess - reset_excess AS run_excess,
        seq - reset_seq AS run_charges,
        min(CASE WHEN seq > reset_seq THEN posted_at END) OVER (
            PARTITION BY account, counterparty, reset_seq ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run_since
    FROM runs
)
SELECT account, counterparty, CAST(NULL AS VARCHAR) AS initiator, txn_id, posted_at, day,
    amount, currency, run_amount AS exposure, CAST(run_charges AS INTEGER) AS charges,
    coalesce(run_since, posted_at) AS since,
    CASE WHEN s > $h AND run_excess >= $min_excess AND run_amount >= $tier_warning THEN
        CASE WHEN run_amount >= $tier_critical THEN 'critical'
             WHEN run_amount >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    posted_at + $quiet_days AS active_until
FROM evidence
WHERE s > 0
