-- name: ledger_rows
-- finds: the transactions a scan judges: posted by $as_of, and (incremental scans) only
--   those of the keys in temp table `scope` posted on or after $horizon. Each carries
--   the registry reference that explains it, if any (temp table `explained`). The
--   counterparty is the payee KEY (table payee_keys: "PAYPAL *ACME LTD" -> "acme"), so every
--   detector groups the ways a payee is written as one; a name not keyed yet (a
--   read-only reader after a change of [payees]) stays as written.
-- params:
--   $as_of    DATE     last posting date to consider
--   $horizon  DATE     first posting date to consider (NULL: all history)
--   $scoped   BOOLEAN  only rows of the keys in temp table `scope`
-- returns (temp table `ledger_rows`): txn_id, source, account, counterparty, initiator,
--   counterparty_account, mcc, posted_at, day (days since 1970-01-01), amount, currency,
--   explained_by.

CREATE OR REPLACE TEMP TABLE ledger_rows AS
SELECT t.txn_id, t.source, t.account,
       coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       coalesce(t.initiator, t.account) AS initiator,
       t.counterparty_account, t.mcc, t.posted_at,
       CAST(date_diff('day', DATE '1970-01-01', t.posted_at) AS INTEGER) AS day,
       t.amount, t.currency, e.reference AS explained_by
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
LEFT JOIN explained e USING (source, txn_id)
WHERE t.posted_at <= $as_of
  AND ($horizon IS NULL OR t.posted_at >= $horizon)
  AND (NOT $scoped
       OR t.account IN (SELECT key FROM scope WHERE kind = 'account')
       OR coalesce(k.payee_key, t.counterparty, '(no payee)')
          IN (SELECT key FROM scope WHERE kind = 'payee')
       OR coalesce(t.initiator, t.account) IN (SELECT key FROM scope WHERE kind = 'initiator')
       OR t.counterparty_account IN (SELECT key FROM scope WHERE kind = 'payout'));
