-- name: feeds
-- finds: every posting day of every source, for the stale-feed detector. Always over the
--   whole ledger: a quiet feed is about what did not arrive, which no scope can see.
-- params:
--   $as_of  DATE  last posting date to consider
-- returns (temp table `feeds`): source, day (days since 1970-01-01), posted_at, currency.

CREATE OR REPLACE TEMP TABLE feeds AS
SELECT source, CAST(date_diff('day', DATE '1970-01-01', posted_at) AS INTEGER) AS day,
       posted_at, max(currency) AS currency
FROM transactions
WHERE posted_at <= $as_of
GROUP BY source, posted_at;
