-- name: keep_matches
-- finds: the matches of one screening, kept: for each payee name and list entry, the best
--   scored pair (temp table screening_scored: payee form, name_id, score at or above the
--   threshold) over the payee's forms and the entry's names and aliases.
-- params:
--   $version_id  BIGINT     the list version screened against
--   $at          TIMESTAMP  when
-- returns (table screening_matches, appended): one row per payee name and entry.

INSERT INTO screening_matches
SELECT $version_id, p.payee, any_value(p.payee_key), n.entry_uid,
    arg_max(n.listed, (s.score, NOT n.is_alias)), arg_max(n.is_alias, (s.score, NOT n.is_alias)),
    max(s.score), $at
FROM screening_scored s
JOIN screening_payees p ON p.form = s.form
JOIN screening_names n ON n.version_id = $version_id AND n.name_id = s.name_id
GROUP BY p.payee, n.entry_uid;
