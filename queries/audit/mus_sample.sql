-- name: mus_sample
-- finds: A monetary-unit sample of the charges (systematic, probability proportional to
--   amount): the population in posting order is laid end to end in cents, cut into
--   $sample_size equal intervals, and the charge holding the cent at the same random offset
--   in each interval is picked. The offset comes from $seed alone (the MD5 of the seed), so
--   the same seed on the same data gives the same sample; record the seed with the sample.
--   A charge larger than the interval is picked with certainty (hits > 1).
-- params:
--   $seed         BIGINT   default 1     the recorded seed
--   $sample_size  INTEGER  default 60    intervals (the most charges the sample can hold)
--   $date_from    DATE     default NULL  first posting day (NULL: from the start)
--   $date_to      DATE     default NULL  last posting day (NULL: to the end)
--   $account      VARCHAR  default NULL  only this account (NULL: all)
--   $min_amount   DECIMAL  default 0.01  charges below this are not in the population
-- returns: pick, hits, selected_cent, posted_at, amount, counterparty, account, source,
--   txn_id, interval, population_value, population_charges, seed.

WITH population AS (
    SELECT posted_at, amount, counterparty, account, source, txn_id,
           CAST(CAST(amount AS DECIMAL(38,2)) * 100 AS BIGINT) AS cents
    FROM transactions
    WHERE amount > 0 AND amount >= $min_amount
      AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
      AND ($account IS NULL OR account = $account)
),
laid AS (
    SELECT *, sum(cents) OVER (ORDER BY posted_at, source, txn_id ROWS UNBOUNDED PRECEDING) AS hi
    FROM population
),
plan AS (
    SELECT coalesce(sum(cents), 0) AS total, count(*) AS n,
           coalesce(sum(cents), 0) / greatest($sample_size, 1) AS step,
           CAST(('0x' || left(md5(CAST($seed AS VARCHAR)), 13)) AS BIGINT) / 4503599627370496.0 AS fraction
    FROM population
),
points AS (
    SELECT k.range AS k, CAST(floor(p.step * (k.range + p.fraction)) AS HUGEINT) AS cent
    FROM plan p, range(0, greatest($sample_size, 1)) k
    WHERE p.total > 0
),
hits AS (
    SELECT l.txn_id, l.source, min(pt.cent) AS selected_cent, count(*) AS hits
    FROM points pt JOIN laid l ON pt.cent >= l.hi - l.cents AND pt.cent < l.hi
    GROUP BY l.txn_id, l.source
)
SELECT row_number() OVER (ORDER BY h.selected_cent) AS pick, h.hits, h.selected_cent,
       l.posted_at, l.amount, l.counterparty, l.account, l.source, l.txn_id,
       CAST(p.step / 100 AS DECIMAL(38,2)) AS interval,
       CAST(CAST(p.total AS DECIMAL(38,0)) * 0.01 AS DECIMAL(38,2)) AS population_value, p.n AS population_charges,
       CAST($seed AS BIGINT) AS seed
FROM hits h JOIN laid l USING (txn_id, source), plan p
ORDER BY pick;
