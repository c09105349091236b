-- name: last_two_digits
-- finds: Last-two-digits test: how often each ending 00-99 of the whole-currency part of the
--   charges occurs; with no invented amounts each should be near 1%. Invented numbers
--   favour 00, 50 and repeated digits. The chi-square statistic over the 100 endings has 99
--   degrees of freedom (5% critical value 123.2). Below $min_n charges it is not judged.
-- params:
--   $date_from   DATE     default NULL  first posting day (NULL: from the start)
--   $date_to     DATE     default NULL  last posting day (NULL: to the end)
--   $account     VARCHAR  default NULL  only this account (NULL: all)
--   $min_amount  DECIMAL  default 100   charges below this are left out (need 3 whole digits)
--   $min_n       INTEGER  default 1000  fewest charges to judge
-- returns: ending, count, actual, expected, difference, n, chi_square, judgement.

WITH population AS (
    SELECT CAST(floor(amount) AS BIGINT) % 100 AS ending
    FROM transactions
    WHERE amount > 0 AND amount >= $min_amount
      AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
      AND ($account IS NULL OR account = $account)
),
counted AS (
    SELECT e.range AS ending, count(p.ending) AS count, (SELECT count(*) FROM population) AS n
    FROM range(0, 100) e LEFT JOIN population p ON p.ending = e.range
    GROUP BY e.range
),
scored AS (
    SELECT *, sum(CASE WHEN n > 0 THEN (count - n / 100) ^ 2 / (n / 100) END) OVER () AS chi_square
    FROM counted
)
SELECT lpad(CAST(ending AS VARCHAR), 2, '0') AS ending, count,
       round(CASE WHEN n > 0 THEN count / n END, 6) AS actual, 0.01 AS expected,
       round(CASE WHEN n > 0 THEN count / n - 0.01 END, 6) AS difference, n,
       round(chi_square, 2) AS chi_square,
       CASE WHEN n < $min_n THEN format('too few charges ({} < {})', n, $min_n)
            WHEN chi_square > 123.225 THEN 'endings not uniform (chi-square above the 5% critical value)'
            ELSE 'endings consistent with uniform' END AS judgement
FROM scored
ORDER BY ending;
