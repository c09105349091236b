-- name: duplicates
-- finds: Exact duplicates: the same account, payee, amount and day more than once.
-- params:
--   $date_from  DATE     default NULL  first posting day (NULL: from the start)
--   $date_to    DATE     default NULL  last posting day (NULL: to the end)
--   $min_amount DECIMAL  default 0     ignore charges below this
-- returns: posted_at, account, counterparty, amount, copies, excess (what the copies
--   after the first cost), txn_ids.

SELECT posted_at, account, counterparty, amount, count(*) AS copies,
       CAST(amount AS DECIMAL(38,2)) * (count(*) - 1) AS excess,
       array_to_string(list(txn_id ORDER BY source, txn_id), ', ') AS txn_ids
FROM transactions
WHERE amount > 0 AND amount >= $min_amount
  AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
GROUP BY posted_at, account, counterparty, amount
HAVING count(*) > 1
ORDER BY excess DESC, posted_at, account, counterparty;
