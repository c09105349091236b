-- name: charges
-- finds: Every charge to a payee or from an account in a date range (refunds included),
--   oldest first. Payee and account match case-insensitively; * matches any text.
-- params:
--   $payee      VARCHAR  default NULL  payee name or pattern (NULL: any payee)
--   $account    VARCHAR  default NULL  account or pattern (NULL: any account)
--   $date_from  DATE     default NULL  first posting day (NULL: from the start)
--   $date_to    DATE     default NULL  last posting day (NULL: to the end)
-- returns: posted_at, amount, currency, counterparty, account, initiator, description,
--   reference, source, txn_id, file_id, source_row.

SELECT posted_at, amount, currency, counterparty, account, initiator, description, reference,
       source, txn_id, file_id, source_row
FROM transactions
WHERE ($payee IS NULL OR lower(counterparty) LIKE
          replace(replace(replace(lower(trim($payee)), '%', '\%'), '_', '\_'), '*', '%') ESCAPE '\')
  AND ($account IS NULL OR lower(account) LIKE
          replace(replace(replace(lower(trim($account)), '%', '\%'), '_', '\_'), '*', '%') ESCAPE '\')
  AND ($date_from IS NULL OR posted_at >= CAST($date_from AS DATE))
  AND ($date_to IS NULL OR posted_at <= CAST($date_to AS DATE))
ORDER BY posted_at, source, txn_id;
