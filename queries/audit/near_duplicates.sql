-- name: near_duplicates
-- finds: Near-duplicates: the same amount on the same day paid to different payees (an
--   invoice paid twice under two names), across all accounts.
-- params:
--   $date_from  DATE     default NULL  first posting day (NULL: from the start)
--   $date_to    DATE     default NULL  last posting day (NULL: to the end)
--   $min_amount DECIMAL  default 100   ignore charges below this (small equal amounts are common)
-- returns: posted_at, amount, payees, charges, counterparties, accounts, txn_ids.

SELECT posted_at, amount, count(DISTINCT counterparty) AS payees, count(*) AS charges,
       array_to_string(list(DISTINCT counterparty ORDER BY counterparty), '; ') AS counterparties,
       array_to_string(list(DISTINCT account ORDER BY account), '; ') AS accounts,
       array_to_string(list(txn_id ORDER BY source, txn_id), ', ') AS txn_ids
FROM transactions
WHERE amount > 0 AND amount >= $min_amount AND counterparty IS NOT NULL
  AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
GROUP BY posted_at, amount
HAVING count(DISTINCT counterparty) > 1
ORDER BY amount DESC, posted_at;
