-- name: stratify
-- finds: Stratification of the charges by amount band: how many, how much, and each band's
--   share of the count and of the value. A band runs from its lower bound (included) to the
--   next bound (excluded); the last band is open-ended.
-- params:
--   $bands      DECIMAL[]  default [0,100,500,1000,5000,10000]  lower bounds of the bands
--   $date_from  DATE       default NULL  first posting day (NULL: from the start)
--   $date_to    DATE       default NULL  last posting day (NULL: to the end)
-- returns: band, lower, upper, charges, total, share_of_count, share_of_value, smallest,
--   largest, average.

WITH bounds AS (
    SELECT unnest(list_sort(CAST($bands AS DECIMAL(18,2)[]))) AS lower
),
bands AS (
    SELECT row_number() OVER (ORDER BY lower) AS band, lower, lead(lower) OVER (ORDER BY lower) AS upper
    FROM bounds
),
population AS (
    SELECT amount FROM transactions
    WHERE amount > 0
      AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
),
per_band AS (
    SELECT b.band, b.lower, b.upper, count(p.amount) AS charges, coalesce(sum(p.amount), 0) AS total,
           min(p.amount) AS smallest, max(p.amount) AS largest, CAST(avg(p.amount) AS DECIMAL(38,2)) AS average
    FROM bands b LEFT JOIN population p ON p.amount >= b.lower AND (b.upper IS NULL OR p.amount < b.upper)
    GROUP BY b.band, b.lower, b.upper
)
SELECT band, lower, upper, charges, total,
       round(charges / nullif(sum(charges) OVER (), 0), 4) AS share_of_count,
       round(total / nullif(sum(total) OVER (), 0), 4) AS share_of_value,
       smallest, largest, average
FROM per_band
ORDER BY band;
