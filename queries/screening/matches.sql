-- name: matches
-- finds: the current list versions' matches of the ledger's payees, best first, with the
--   entry, its programmes, the alias matched (empty when the listed name matched) and,
--   for a dismissed one, who dismissed it and why.
-- params:
--   $include_dismissed  BOOLEAN  also the matches reviewers dismissed
-- returns: payee_key, payee, entry_uid, entry_name, kind, programmes, alias, score, list,
--   version_id, dismissed, dismissed_by, why.

SELECT m.payee_key, m.payee, m.entry_uid, e.name AS entry_name, e.kind, e.programmes,
    CASE WHEN m.is_alias THEN m.listed END AS alias, m.score, c.list, m.version_id,
    d.payee_key IS NOT NULL AS dismissed, d.dismissed_by, d.why
FROM screening_matches m
JOIN screening_current c USING (version_id)
JOIN screening_entries e USING (version_id, entry_uid)
LEFT JOIN (SELECT payee_key, entry_uid, arg_max(dismissed_by, dismissed_at) AS dismissed_by,
                  arg_max(why, dismissed_at) AS why
           FROM screening_dismissals GROUP BY ALL) d
  ON d.payee_key = m.payee_key AND d.entry_uid = m.entry_uid
WHERE $include_dismissed OR d.payee_key IS NULL
ORDER BY m.score DESC, m.payee_key, m.payee, m.entry_uid;
