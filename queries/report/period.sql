-- name: period
-- finds: The ledger's span and its currencies within the report's period: the first and
--   last posting day, and each currency with how many charges carry it, most used first.
-- params:
--   $date_from  DATE  default NULL  first day of the period (NULL: from the start)
--   $date_to    DATE  default NULL  last day of the period (NULL: to the end)
-- returns: first_posted, last_posted, currencies (VARCHAR[], most used first),
--   transactions (one row).

WITH scoped AS (
    SELECT posted_at, currency FROM transactions
    WHERE ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
),
used AS (
    SELECT currency, count(*) AS n FROM scoped WHERE currency IS NOT NULL GROUP BY currency
)
SELECT (SELECT min(posted_at) FROM scoped) AS first_posted,
       (SELECT max(posted_at) FROM scoped) AS last_posted,
       coalesce((SELECT list(currency ORDER BY n DESC, currency) FROM used), []) AS currencies,
       (SELECT count(*) FROM scoped) AS transactions;
