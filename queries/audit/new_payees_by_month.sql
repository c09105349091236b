-- name: new_payees_by_month
-- finds: Payees seen for the first time, counted by the month of their first charge, with
--   what they were paid in that first month and since.
-- params:
--   $date_from  DATE  default NULL  first month to show (NULL: all)
--   $date_to    DATE  default NULL  last day to show (NULL: all)
-- returns: month, new_payees, first_month_spend, spend_since, charges_since, examples
--   (up to five payees, largest spend first).

WITH firsts AS (
    SELECT counterparty, min(posted_at) AS first_day
    FROM transactions
    WHERE amount > 0 AND counterparty IS NOT NULL
    GROUP BY counterparty
),
per_payee AS (
    SELECT f.counterparty, date_trunc('month', f.first_day) AS month,
           sum(t.amount) FILTER (WHERE date_trunc('month', t.posted_at) = date_trunc('month', f.first_day)) AS first_month_spend,
           sum(t.amount) AS spend_since, count(*) AS charges_since
    FROM firsts f JOIN transactions t ON t.counterparty = f.counterparty AND t.amount > 0
    GROUP BY f.counterparty, f.first_day
)
SELECT CAST(month AS DATE) AS month, count(*) AS new_payees,
       sum(first_month_spend) AS first_month_spend, sum(spend_since) AS spend_since,
       sum(charges_since) AS charges_since,
       array_to_string(list(counterparty ORDER BY spend_since DESC, counterparty)[1:5], '; ') AS examples
FROM per_payee
WHERE ($date_from IS NULL OR month >= date_trunc('month', CAST($date_from AS DATE)))
  AND ($date_to IS NULL OR month <= CAST($date_to AS DATE))
GROUP BY month
ORDER BY month;
