-- name: failed_checks
-- finds: bank statements whose balance or sequence checks failed (balance mismatch,
--   missing statement, entries set aside), newest first. Alerting can read this.
-- params:
--   $limit  INTEGER  at most this many rows
-- returns: file_id, path, kind, account, currency, statement, closing_date, problems.

SELECT s.file_id, f.path, s.kind, s.account, s.currency,
       coalesce(s.reference, s.number) AS statement, s.closing_date, s.problems
FROM statements s JOIN files f USING (file_id)
WHERE s.problems IS NOT NULL
ORDER BY s.file_id DESC, s.position
LIMIT $limit;
