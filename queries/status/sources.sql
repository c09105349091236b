-- name: sources
-- finds: what the ledger holds per source: files, transactions, date range, set-aside rows.
-- params: none.
-- returns: source, files, transactions, accounts, first_posted, last_posted,
--   rejected_rows, failed_files, last_ingested_at.

WITH f AS (
    SELECT source,
           count(*) FILTER (WHERE status = 'loaded') AS files,
           sum(rejected) FILTER (WHERE status = 'loaded') AS rejected_rows,
           count(*) FILTER (WHERE status = 'error') AS failed_files,
           max(ingested_at) FILTER (WHERE status = 'loaded') AS last_ingested_at
    FROM files GROUP BY source
), t AS (
    SELECT source, count(*) AS transactions, count(DISTINCT account) AS accounts,
           min(posted_at) AS first_posted, max(posted_at) AS last_posted
    FROM transactions GROUP BY source
)
SELECT f.source, f.files, coalesce(t.transactions, 0) AS transactions,
       coalesce(t.accounts, 0) AS accounts, t.first_posted, t.last_posted,
       coalesce(f.rejected_rows, 0) AS rejected_rows, f.failed_files, f.last_ingested_at
FROM f LEFT JOIN t USING (source)
ORDER BY f.source;
