-- name: below_approval_limit
-- finds: Charges bunched just below an approval limit: several charges from one account to
--   one payee each within $band of an approval limit ($limit_unit times 1, 2, 4, 10 or 20:
--   by default 500, 1,000, 2,000, 5,000 and 10,000; set the unit in the ledger's currency) and
--   under it, making up most of what the account pays that payee, as when a larger
--   payment is split to avoid sign-off.
-- params:
--   $band           DOUBLE   default 0.05   how far below a limit counts, as a share of it
--   $window_days    INTEGER  default 90     charges are counted over this many days
--   $min_charges    INTEGER  default 3      charges just below a limit needed to fire
--   $min_share      DOUBLE   default 0.5    ...and at least this share of the pair's charges
--   $limit_unit     DECIMAL  default 500    the smallest approval limit; the others are 2, 4, 10
--                                            and 20 times it (money: it scales with the ledger)
--   $tier_warning   DECIMAL  default 1000   exposure that fires at severity warning
--   $tier_high      DECIMAL  default 5000   exposure that escalates to high
--   $tier_critical  DECIMAL  default 25000  exposure that escalates to critical
-- calibrate: $min_charges ladder 2 3 4 6 8 12 16 24 32
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges just below an approval limit to '{counterparty}' from account {account} since {since}, {exposure}, none of them approved

-- Windows run over one row per group and day (a RANGE frame over many charges of one day
-- costs time quadratic in them), then each charge takes its day's figures.
WITH marked AS (
    SELECT c.*,
        CASE WHEN (c.amount < $limit_unit AND c.amount >= $limit_unit * (1 - $band))
               OR (c.amount < 2 * $limit_unit AND c.amount >= 2 * $limit_unit * (1 - $band))
               OR (c.amount < 4 * $limit_unit AND c.amount >= 4 * $limit_unit * (1 - $band))
               OR (c.amount < 10 * $limit_unit AND c.amount >= 10 * $limit_unit * (1 - $band))
               OR (c.amount < 20 * $limit_unit AND c.amount >= 20 * $limit_unit * (1 - $band)) THEN 1 ELSE 0 END AS is_near
    FROM charges c
    WHERE c.explained_by IS NULL AND c.amount > 0
),
possible AS (   -- a pair with too few near-limit charges in all can never fire
    SELECT account, counterparty FROM marked
    GROUP BY account, counterparty
    HAVING sum(is_near) >= $min_charges AND sum(is_near * amount) >= $tier_warning
),
flagged AS (
    SELECT m.* FROM marked m SEMI JOIN possible p USING (account, counterparty)
),
daily AS (
    SELECT account, counterparty, day, sum(is_near) AS n, count(*) AS all_n,
        sum(is_near * amount) AS total,
        min(CASE WHEN is_near = 1 THEN day END) AS first_day,
        min(CASE WHEN is_near = 1 THEN posted_at END) AS first_at
    FROM flagged
    GROUP BY account, counterparty, day
),
windowed AS (
    SELECT account, counterparty, day,
        sum(n) OVER w AS n,
        sum(all_n) OVER w AS all_n,
        sum(total) OVER w AS total,
        min(first_day) OVER w AS first_day,
        min(first_at) OVER w AS first_at
    FROM daily
    WINDOW w AS (PARTITION BY account, counterparty ORDER BY day
                 RANGE BETWEEN $window_days PRECEDING AND CURRENT ROW)
)
SELECT f.account, f.counterparty, CAST(NULL AS VARCHAR) AS initiator, f.txn_id, f.posted_at,
    f.day, f.amount, f.currency, w.total AS exposure, CAST(w.n AS INTEGER) AS charges,
    w.first_at AS since,
    CASE WHEN w.n >= $min_charges AND w.n >= $min_share * w.all_n AND w.first_day < f.day
              AND w.total >= $tier_warning THEN
        CASE WHEN w.total >= $tier_critical THEN 'critical'
             WHEN w.total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    f.posted_at + $window_days AS active_until
FROM flagged f JOIN windowed w USING (account, counterparty, day)
WHERE f.is_near = 1
