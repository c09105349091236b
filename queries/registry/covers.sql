-- name: covers
-- finds: the payee names as written in the ledger that registry entry $auth_id covers:
--   those with the entry's payee key (table payee_keys; "Acme Hosting" covers "ACME
--   HOSTING LTD" and "PAYPAL *ACME HOSTING"), or, for a payee with * (a wildcard), those
--   whose name as written or key matches the pattern (as queries/scan/explain.sql
--   matches), most charged first.
-- params:
--   $auth_id  BIGINT   the registry entry
--   $limit    INTEGER  at most this many names
-- returns: name, payee_key, charges, first_posted, last_posted.

WITH rule AS (
    SELECT coalesce(k.payee_key, lower(trim(a.payee))) AS rule_key,
           contains(a.payee, '*') AS is_pattern,
           replace(replace(replace(lower(trim(a.payee)), '%', '\%'), '_', '\_'), '*', '%')
               AS like_pattern
    FROM authorizations a
    LEFT JOIN payee_keys k ON k.name = a.payee
    WHERE a.auth_id = $auth_id
),
names AS (
    SELECT t.counterparty AS name, coalesce(k.payee_key, lower(trim(t.counterparty))) AS payee_key,
           count(*) AS charges, min(t.posted_at) AS first_posted, max(t.posted_at) AS last_posted
    FROM transactions t
    LEFT JOIN payee_keys k ON k.name = t.counterparty
    WHERE t.counterparty IS NOT NULL
    GROUP BY ALL
)
SELECT n.name, n.payee_key, n.charges, n.first_posted, n.last_posted
FROM names n, rule r
WHERE (NOT r.is_pattern AND n.payee_key = r.rule_key)
   OR (r.is_pattern AND (lower(trim(n.name)) LIKE r.like_pattern ESCAPE '\'
                         OR n.payee_key LIKE r.like_pattern ESCAPE '\'))
ORDER BY n.charges DESC, n.name
LIMIT $limit;
