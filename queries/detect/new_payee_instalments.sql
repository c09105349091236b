-- name: new_payee_instalments
-- finds: Many instalments, of any size, to a payee new to the account whose running sum
--   becomes unusual for the account: larger than $multiple times what this account
--   usually spends with one payee in a month (its mean over the past months' account-payee
--   months, this payee's own months left out), and at least the warning tier. Small charges
--   count: there is no lower cut-off, so 40 charges of 150 add up as one charge of 6,000
--   would. An account with too little history of its own (fewer than $min_pair_months
--   account-payee months: a new or dormant card) is judged by the organisation's mean over
--   all accounts, read from table `transactions` up to $as_of (not from `charges`, which
--   an incremental scan limits to the accounts and payees it looks at again). Refunds from the payee cancel charges. A payee that many accounts used before
--   this one (a shop) is left to other detectors.
-- params:
--   $as_of          DATE     default NULL   the scan date (set by the scan)
--   $new_days       INTEGER  default 180    days a payee counts as new for the account
--   $history_months INTEGER  default 12     months of history the usual spend is taken over
--   $min_pair_months INTEGER default 6      account-payee months (other payees') the account
--                                            needs in its history before it is judged
--   $multiple       DOUBLE   default 6.0    running sum over the usual monthly spend with one payee
--   $rate_multiple  DOUBLE   default 3.0    and its spend a month (over at least one month) over
--                                            that usual: a new supplier paid steadily at an
--                                            ordinary rate for months is not instalments
--   $min_charges    INTEGER  default 4      charges (net of refunds) needed to fire
--   $min_days       INTEGER  default 3      days with charges needed to fire
--   $similarity     DOUBLE   default 0.4    largest spread of the amounts so far, as a share of the
--                                            largest (instalments are alike; shopping is not):
--                                            0.4 lets amounts jitter by up to a quarter either
--                                            side (0.25 let a thief jittering by 20% through)
--   $max_other_accounts INTEGER default 2   accounts that may have used the payee before
--   $tier_warning   DECIMAL  default 1000   running sum that fires at severity warning
--   $tier_high      DECIMAL  default 5000   running sum that escalates to high
--   $tier_critical  DECIMAL  default 25000  running sum that escalates to critical
-- calibrate: $multiple ladder 3 4.5 6 9 12 18 24 36 48
-- returns: the detector event columns (see queries/scan/summarize.sql).
-- sentence: {charges} charges to '{counterparty}' from account {account} since {since}, {exposure} in all, far more than this account usually pays one payee in a month; the payee is new to this account and none of the charges is approved

-- The usual spend is a sum and a count over whole calendar months before the charge's
-- month, kept apart (compared multiplied out, never divided) so that multiplying every
-- amount and tier by k gives the same alerts.
WITH counted AS (
    SELECT *, CAST(year(posted_at) * 12 + month(posted_at) AS INTEGER) AS month_no
    FROM charges
    WHERE explained_by IS NULL
      AND day <= pair_first_day + $new_days
      AND payee_accounts_before <= $max_other_accounts
),
possible AS (        -- a new pair with too little money or too few charges can never fire
    SELECT account, counterparty FROM counted
    GROUP BY account, counterparty
    HAVING count(CASE WHEN amount > 0 THEN 1 END) >= $min_charges
       AND sum(CASE WHEN amount > 0 THEN amount ELSE 0 END) >= $tier_warning
),
daily AS (
    SELECT c.account, c.counterparty, c.day, min(c.month_no) AS month_no,
        count(CASE WHEN c.amount > 0 THEN 1 END) AS charged,
        count(CASE WHEN c.amount < 0 THEN 1 END) AS refunded,
        count(CASE WHEN c.amount > 0 THEN 1 END) > 0 AS charge_day,
        sum(c.amount) AS total,
        -- wide enough that the spread test cannot overflow at the largest amounts
        CAST(min(CASE WHEN c.amount > 0 THEN c.amount END) AS DECIMAL(38, 2)) AS low,
        CAST(max(c.amount) AS DECIMAL(38, 2)) AS high,
        min(c.posted_at) AS first_at
    FROM counted c SEMI JOIN possible p USING (account, counterparty)
    GROUP BY c.account, c.counterparty, c.day
),
running AS (
    SELECT *,
        CAST(sum(charged) OVER run - sum(refunded) OVER run AS BIGINT) AS net_charges,
        count(CASE WHEN charge_day THEN 1 END) OVER run AS days_charged,
        sum(total) OVER run AS running_total,
        min(low) OVER run AS low_so_far, max(high) OVER run AS high_so_far,
        min(first_at) OVER run AS since,
        min(day) OVER run AS first_day
    FROM daily
    WINDOW run AS (PARTITION BY account, counterparty ORDER BY day ROWS UNBOUNDED PRECEDING)
),
-- Every account-payee month of spending (approved or not), for the accounts in play
-- (the others' charges are left out before grouping: where nearly every charge opens a
-- pair, grouping them all cost 0.5 s of CPU of an incremental scan at 10M rows).
pair_months AS (
    SELECT c.account, c.counterparty,
        CAST(year(c.posted_at) * 12 + month(c.posted_at) AS INTEGER) AS month_no,
        sum(c.amount) AS total
    FROM charges c SEMI JOIN (SELECT DISTINCT account FROM possible) a USING (account)
    WHERE c.amount > 0
    GROUP BY 1, 2, 3
),
account_months AS (
    SELECT account, month_no, sum(total) AS total, count(*) AS pairs
    FROM pair_months
    GROUP BY account, month_no
),
account_usual AS (
    SELECT account, month_no,
        coalesce(sum(total) OVER past, 0) AS usual_total,
        coalesce(sum(pairs) OVER past, 0) AS usual_pairs
    FROM account_months
    WINDOW past AS (PARTITION BY account ORDER BY month_no
                    RANGE BETWEEN $history_months PRECEDING AND 1 PRECEDING)
),
-- The organisation's usual spend is needed only for the months of the days judged, each
-- from the $history_months before it: the ledger is read from the earliest of those on
-- (an incremental scan judges its last 400 days, not all four years).
earliest AS (
    SELECT min(month_no) - $history_months AS month_no FROM daily
),
org_usual AS (       -- the organisation's, over every account (see above)
    SELECT month_no,
        coalesce(sum(total) OVER past, 0) AS usual_total,
        coalesce(sum(pairs) OVER past, 0) AS usual_pairs
    FROM (SELECT month_no, sum(total) AS total, count(*) AS pairs
          FROM (SELECT account, counterparty,
                    CAST(year(posted_at) * 12 + month(posted_at) AS INTEGER) AS month_no,
                    sum(amount) AS total
                FROM transactions
                WHERE amount > 0 AND posted_at <= $as_of
                  AND year(posted_at) * 12 + month(posted_at)
                      >= (SELECT month_no FROM earliest)
                GROUP BY 1, 2, 3) p
          GROUP BY month_no) m
    WINDOW past AS (ORDER BY month_no RANGE BETWEEN $history_months PRECEDING AND 1 PRECEDING)
),
own_months AS (      -- this payee's own months, taken out of the account's usual spend
    SELECT account, counterparty, month_no,
        coalesce(sum(total) OVER past, 0) AS own_total,
        coalesce(count(*) OVER past, 0) AS own_pairs
    FROM pair_months SEMI JOIN possible p USING (account, counterparty)
    WINDOW past AS (PARTITION BY account, counterparty ORDER BY month_no
                    RANGE BETWEEN $history_months PRECEDING AND 1 PRECEDING)
),
judged AS (
    SELECT r.*,
        CASE WHEN coalesce(a.usual_pairs, 0) - coalesce(o.own_pairs, 0) >= $min_pair_months
             THEN a.usual_total - coalesce(o.own_total, 0) ELSE g.usual_total END AS usual_total,
        CASE WHEN coalesce(a.usual_pairs, 0) - coalesce(o.own_pairs, 0) >= $min_pair_months
             THEN a.usual_pairs - coalesce(o.own_pairs, 0) ELSE g.usual_pairs END AS usual_pairs
    FROM running r
    LEFT JOIN account_usual a USING (account, month_no)
    LEFT JOIN own_months o USING (account, counterparty, month_no)
    LEFT JOIN org_usual g USING (month_no)
)
SELECT c.account, c.counterparty, CAST(NULL AS VARCHAR) AS initiator, c.txn_id, c.posted_at,
    c.day, c.amount, c.currency, w.running_total AS exposure,
    CAST(w.net_charges AS INTEGER) AS charges, w.since,
    CASE WHEN c.amount > 0 AND w.net_charges >= $min_charges AND w.days_charged >= $min_days
              AND w.running_total >= $tier_warning
              AND w.usual_pairs >= $min_pair_months
              AND w.high_so_far - w.low_so_far <= CAST($similarity AS DECIMAL(18, 4)) * w.high_so_far
              AND w.running_total * w.usual_pairs
                  >= CAST($multiple AS DECIMAL(18, 4)) * w.usual_total
              AND w.running_total * w.usual_pairs * 30
                  >= CAST($rate_multiple AS DECIMAL(18, 4)) * w.usual_total
                     * greatest(30, c.day - w.first_day + 1) THEN
        CASE WHEN w.running_total >= $tier_critical THEN 'critical'
             WHEN w.running_total >= $tier_high THEN 'high' ELSE 'warning' END
    END AS severity,
    c.posted_at + 30 AS active_until
FROM counted c JOIN judged w USING (account, counterparty, day)
WHERE c.amount > 0
