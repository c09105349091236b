-- name: stale_feed
-- finds: A source whose transactions stopped arriving: no posting for more than
--   $max_quiet_days days, between two postings or up to the scan date. A quiet feed
--   hides theft as well as honest spend, so it is an alert of its own.
-- params:
--   $as_of          DATE     default NULL   the scan date (set by the scan)
--   $max_quiet_days INTEGER  default 45     longest quiet spell that is normal for a feed
-- reads: temp table `feeds` (every posting day of every source; see queries/scan/features.sql).
-- returns: the detector event columns (see queries/scan/summarize.sql); account holds
--   the source name, and there is no evidence charge.
-- sentence: No transactions from {account} since {since}: the feed has gone quiet, so charges may be missing

WITH gaps AS (
    SELECT *,
        coalesce(lead(day) OVER (PARTITION BY source ORDER BY day),
                 CAST(date_diff('day', DATE '1970-01-01', CAST($as_of AS DATE)) AS INTEGER) + 1) AS next_day
    FROM feeds
)
SELECT 'feed ' || source AS account, CAST(NULL AS VARCHAR) AS counterparty,
    CAST(NULL AS VARCHAR) AS initiator, CAST(NULL AS VARCHAR) AS txn_id,
    posted_at + ($max_quiet_days + 1) AS posted_at, day + $max_quiet_days + 1 AS day,
    CAST(0 AS DECIMAL(18,2)) AS amount, currency, CAST(0 AS DECIMAL(38,2)) AS exposure,
    0 AS charges, posted_at AS since, 'warning' AS severity,
    posted_at + (next_day - day - 1) AS active_until
FROM gaps
WHERE next_day - day > $max_quiet_days + 1
