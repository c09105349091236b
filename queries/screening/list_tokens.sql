-- name: list_tokens
-- finds: the words of every name of a list version, and each pair of adjacent words written
--   together ('jong un' also as 'jongun'): a payee is compared with a listed name only when
--   they share such words (screening/candidates.sql).
-- params:
--   $version_id  BIGINT  the list version just loaded
-- returns (table screening_tokens, appended): version_id, name_id, token.

INSERT INTO screening_tokens
SELECT DISTINCT version_id, name_id, token
FROM (
    SELECT version_id, name_id,
        unnest(w || list_transform(range(len(w) - 1), lambda i: w[i + 1] || w[i + 2])) AS token
    FROM (SELECT version_id, name_id, string_split(form, ' ') AS w
          FROM screening_names WHERE version_id = $version_id)
);
