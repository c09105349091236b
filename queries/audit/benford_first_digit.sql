-- name: benford_first_digit
-- finds: Benford first-digit test of the charges: how often each leading digit occurs
--   against log10(1 + 1/d), the z statistic per digit, and the mean absolute deviation
--   (MAD) judged by Nigrini's cut-offs (close conformity <= 0.006, acceptable <= 0.012,
--   marginal <= 0.015, above: nonconformity). Below $min_n charges the test is not judged
--   (conformity 'too few charges'): small populations fail it by chance.
-- params:
--   $date_from   DATE     default NULL   first posting day (NULL: from the start)
--   $date_to     DATE     default NULL   last posting day (NULL: to the end)
--   $account     VARCHAR  default NULL   only this account (NULL: all)
--   $min_amount  DECIMAL  default 10     charges below this are left out (Nigrini: 10)
--   $min_n       INTEGER  default 1000   fewest charges to judge conformity
--   $close       DOUBLE   default 0.006  MAD up to this: close conformity
--   $acceptable  DOUBLE   default 0.012  MAD up to this: acceptable conformity
--   $marginal    DOUBLE   default 0.015  MAD up to this: marginal conformity; above: nonconformity
-- returns: digit, count, actual, expected, difference, z, n, mad, conformity, warning.

WITH population AS (
    SELECT CAST(left(CAST(CAST(CAST(amount AS DECIMAL(38,2)) * 100 AS BIGINT) AS VARCHAR), 1) AS INTEGER) AS digit
    FROM transactions
    WHERE amount > 0 AND amount >= $min_amount
      AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
      AND ($account IS NULL OR account = $account)
),
digits AS (SELECT range AS digit, log10(1 + 1 / range) AS expected FROM range(1, 10)),
counted AS (
    SELECT d.digit, d.expected, count(p.digit) AS count,
           (SELECT count(*) FROM population) AS n
    FROM digits d LEFT JOIN population p ON p.digit = d.digit
    GROUP BY d.digit, d.expected
),
scored AS (
    SELECT *, CASE WHEN n > 0 THEN count / n END AS actual FROM counted
),
judged AS (
    SELECT *, avg(abs(actual - expected)) OVER () AS mad FROM scored
)
SELECT CAST(digit AS INTEGER) AS digit, count, round(actual, 6) AS actual,
       round(expected, 6) AS expected, round(actual - expected, 6) AS difference,
       round(CASE WHEN n > 0 THEN greatest(abs(actual - expected) - 1 / (2 * n), 0)
                  / sqrt(expected * (1 - expected) / n) END, 3) AS z,
       n, round(mad, 6) AS mad,
       CASE WHEN n < $min_n THEN 'too few charges'
            WHEN mad <= $close THEN 'close conformity'
            WHEN mad <= $acceptable THEN 'acceptable conformity'
            WHEN mad <= $marginal THEN 'marginal conformity'
            ELSE 'nonconformity' END AS conformity,
       CASE WHEN n < $min_n THEN format('only {} charges; the first-digit test needs at least {}', n, $min_n) END AS warning
FROM judged
ORDER BY digit;
