-- name: lists
-- finds: every sanctions list version loaded, newest first: publisher, publication date,
--   files and their SHA-256, entries and names, who loaded it and when, whether it is the
--   list's current version and how many matches it has.
-- params: none.
-- returns: version_id, list, publisher, published, current, entries, names, matches,
--   loaded_at, loaded_by, files, sha256.

SELECT l.version_id, l.list, l.publisher, l.published,
    l.version_id IN (SELECT version_id FROM screening_current) AS current,
    l.entries, l.names,
    (SELECT count(*) FROM screening_matches m WHERE m.version_id = l.version_id) AS matches,
    l.loaded_at, l.loaded_by, l.files, l.sha256
FROM screening_lists l
ORDER BY l.version_id DESC;
