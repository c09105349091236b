-- name: round_amounts
-- finds: Round-amount test: the share of charges that are whole multiples of 10, 100, 1,000
--   and 10,000 against the share expected among whole amounts whose digits are not invented
--   (1 in 10 ends in 0, 1 in 100 in 00, ...), and the payees with the most round charges.
-- params:
--   $date_from   DATE     default NULL  first posting day (NULL: from the start)
--   $date_to     DATE     default NULL  last posting day (NULL: to the end)
--   $min_amount  DECIMAL  default 10    charges below this are left out
-- returns: multiple, charges, round_charges, share, expected_share, ratio, round_spend,
--   top_payees.

WITH population AS (
    SELECT amount, counterparty FROM transactions
    WHERE amount > 0 AND amount >= $min_amount
      AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
      AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
),
multiples(multiple) AS (VALUES (10), (100), (1000), (10000)),
hits AS (
    SELECT m.multiple, p.counterparty, p.amount
    FROM multiples m JOIN population p ON p.amount >= m.multiple AND p.amount % m.multiple = 0
),
per_payee AS (
    SELECT multiple, counterparty, count(*) AS c FROM hits GROUP BY ALL
),
counted AS (
    SELECT m.multiple, (SELECT count(*) FROM population) AS charges,
           (SELECT count(*) FROM hits h WHERE h.multiple = m.multiple) AS round_charges,
           coalesce((SELECT sum(amount) FROM hits h WHERE h.multiple = m.multiple), 0) AS round_spend,
           (SELECT array_to_string(list(counterparty || ' (' || c || ')' ORDER BY c DESC, counterparty)[1:5], '; ')
              FROM per_payee pp WHERE pp.multiple = m.multiple) AS top_payees
    FROM multiples m
)
SELECT multiple, charges, round_charges,
       round(round_charges / nullif(charges, 0), 6) AS share,
       round(1 / multiple, 6) AS expected_share,
       round(round_charges / nullif(charges, 0) * multiple, 2) AS ratio,
       round_spend, top_payees
FROM counted
ORDER BY multiple;
