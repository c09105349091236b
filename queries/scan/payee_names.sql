-- name: payee_names
-- finds: how people know each finding's payee: the names as written (table transactions)
--   of the finding's evidence charges whose payee key is the finding's, most used first
--   (ties: alphabetical), with how many charges each. Findings are grouped by the key
--   ("acme hosting"); people read the name the export wrote ("ACME HOSTING LTD"), with
--   the other ways it was written.
-- reads: relation `finding_evidence` (i: the finding's index, payee_key, txn_id), one row
--   per evidence charge, registered by monitor/detection/scan.py.
-- params: none.
-- returns: i, names (LIST of name, most used first), charges (LIST of counts, same order).

WITH written AS (
    SELECT f.i, t.counterparty AS name, count(*) AS n
    FROM finding_evidence f
    JOIN transactions t ON t.txn_id = f.txn_id
    LEFT JOIN payee_keys k ON k.name = t.counterparty
    WHERE t.counterparty IS NOT NULL
      AND coalesce(k.payee_key, t.counterparty) = f.payee_key
    GROUP BY ALL
)
SELECT i, list(name ORDER BY n DESC, name) AS names, list(n ORDER BY n DESC, name) AS charges
FROM written
GROUP BY i;
