-- name: partial_payees
-- finds: the payees in scope that some account out of scope paid (table pair_history: all
--   history), for macro `rescanned` (scan/scope.sql): a look-alike finding about such a
--   payee was not judged on all its accounts' rows and carries over. Only the payees of
--   this scan's look-alike episodes and of the previous scan's look-alike findings are
--   looked up: the macro asks about no other.
-- params:
--   $previous_scan  BIGINT  the scan an incremental scan builds on
-- returns: nothing; fills temp table `partial_payees` (payee: a payee key).

INSERT INTO partial_payees
WITH asked AS (
    SELECT counterparty FROM episodes
    WHERE detector = 'lookalike_payee' AND counterparty IS NOT NULL
    UNION
    SELECT coalesce(payee_key, counterparty) FROM findings
    WHERE scan_id = $previous_scan AND detector = 'lookalike_payee'
      AND coalesce(payee_key, counterparty) IS NOT NULL
)
SELECT DISTINCT f.counterparty FROM pair_history f
WHERE f.counterparty IN (SELECT counterparty FROM asked)
  AND f.counterparty IN (SELECT key FROM scope WHERE kind = 'payee')
  AND f.account NOT IN (SELECT key FROM scope WHERE kind = 'account');
