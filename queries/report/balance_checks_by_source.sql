-- name: balance_checks_by_source
-- finds: Per source, the bank statements ingested and how their balance and sequence
--   checks came out, with the newest problem found.
-- params: none.
-- returns: source, statements, balance_ok, balance_mismatch, unchecked, with_problems,
--   last_closing_date, latest_problem.

SELECT f.source, count(*) AS statements,
       count(*) FILTER (WHERE s.balance_check = 'ok') AS balance_ok,
       count(*) FILTER (WHERE s.balance_check = 'mismatch') AS balance_mismatch,
       count(*) FILTER (WHERE s.balance_check = 'unchecked') AS unchecked,
       count(*) FILTER (WHERE s.problems IS NOT NULL) AS with_problems,
       max(s.closing_date) AS last_closing_date,
       arg_max(s.problems, s.file_id * 100000 + s.position)
           FILTER (WHERE s.problems IS NOT NULL) AS latest_problem
FROM statements s JOIN files f USING (file_id)
WHERE f.status IN ('loaded', 'rejected')
GROUP BY f.source
ORDER BY f.source;
