-- name: date_families
-- finds: how many of the file's distinct date texts each family of date formats reads,
--   so one family is chosen for the whole column (a row parsed on its own read a US
--   08/09/2022 as 8 September), and whether day-first and month-first disagree.
-- reads: `staging` (its posted_at column, text).
-- params:
--   $year_first   VARCHAR[]  strptime formats with the year first (ISO and the like)
--   $day_first    VARCHAR[]  formats with the day before the month
--   $month_first  VARCHAR[]  formats with the month before the day (US)
-- returns: one row: year_first, day_first, month_first (texts each family reads),
--   disagree (texts day-first and month-first both read, as different days), example
--   (the first such text).

WITH texts AS (
    SELECT DISTINCT clean_text(posted_at) AS t FROM staging
),
read AS (
    SELECT t, try_strptime(t, $year_first) AS y, try_strptime(t, $day_first) AS d,
           try_strptime(t, $month_first) AS m
    FROM texts
    WHERE t IS NOT NULL
)
SELECT count(y) AS year_first, count(d) AS day_first, count(m) AS month_first,
       count(*) FILTER (d <> m) AS disagree, min(t) FILTER (d <> m) AS example
FROM read;
