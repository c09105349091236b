-- name: changes
-- finds: what a new list version changed: the matches it has that the list's previous
--   version did not (added) and those it no longer has (removed), by payee name and entry
--   uid, each saying whether a reviewer dismissed it.
-- params:
--   $before  BIGINT  the previous version (NULL: none, every match is added)
--   $after   BIGINT  the new version
-- returns: change (added | removed), payee, payee_key, entry_uid, entry_name, programmes,
--   alias, score, dismissed.

WITH b AS (SELECT * FROM screening_matches WHERE version_id = $before),
a AS (SELECT * FROM screening_matches WHERE version_id = $after),
moved AS (
    SELECT 'added' AS change, a.* FROM a
    WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.payee = a.payee AND b.entry_uid = a.entry_uid)
    UNION ALL
    SELECT 'removed' AS change, b.* FROM b
    WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.payee = b.payee AND a.entry_uid = b.entry_uid)
)
SELECT m.change, m.payee, m.payee_key, m.entry_uid, e.name AS entry_name, e.programmes,
    CASE WHEN m.is_alias THEN m.listed END AS alias, m.score,
    EXISTS (SELECT 1 FROM screening_dismissals d
            WHERE d.payee_key = m.payee_key AND d.entry_uid = m.entry_uid) AS dismissed
FROM moved m
JOIN screening_entries e ON e.version_id = m.version_id AND e.entry_uid = m.entry_uid
ORDER BY m.change, m.score DESC, m.payee, m.entry_uid;
