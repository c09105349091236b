-- name: pair_firsts
-- finds: the first posting day of every (account, payee key, initiator), computed from all
--   of `transactions`: what table pair_history caches, for connections that cannot
--   keep that cache (read-only ones).
-- params: none.
-- returns (temp view `pair_firsts`): account, counterparty, initiator, first_day,
--   charges (its rows) and spend (the sum of its positive amounts): an incremental scan
--   reads all history only of accounts with a pair of enough of both,
--   detection/catalog.py ACCOUNT_KEYED; last_day (its latest posting: an incremental
--   scan joins its rows only with the kept facts of pairs posted since its horizon).

CREATE OR REPLACE TEMP VIEW pair_firsts AS
SELECT t.account, coalesce(k.payee_key, t.counterparty, '(no payee)') AS counterparty,
       coalesce(t.initiator, t.account) AS initiator,
       CAST(min(date_diff('day', DATE '1970-01-01', t.posted_at)) AS INTEGER) AS first_day,
       count(*) AS charges,
       sum(CASE WHEN t.amount > 0 THEN t.amount ELSE 0 END) AS spend,
       CAST(max(date_diff('day', DATE '1970-01-01', t.posted_at)) AS INTEGER) AS last_day
FROM transactions t
LEFT JOIN payee_keys k ON k.name = t.counterparty
GROUP BY ALL;
