-- name: candidates
-- finds: the pairs worth scoring: each form of a payee name (temp table screening_payees)
--   with each name of the list version that shares a word with it (or two words written
--   together); names of three words or more must share two. A pair sharing nothing cannot
--   reach a useful score (monitor/screening/names.py), and comparing all pairs would cost
--   hours at 200,000 payees.
-- params:
--   $version_id  BIGINT  the list version screened against
-- returns: form (payee's), name_id, listed_form (the listed name's normal form).

WITH forms AS (
    SELECT DISTINCT form, string_split(form, ' ') AS w FROM screening_payees
),
payee_tokens AS (
    SELECT DISTINCT form,
        unnest(w || list_transform(range(len(w) - 1), lambda i: w[i + 1] || w[i + 2])) AS token
    FROM forms
),
shared AS (
    SELECT p.form, t.name_id, count(*) AS shared
    FROM payee_tokens p
    JOIN screening_tokens t ON t.token = p.token AND t.version_id = $version_id
    GROUP BY ALL
)
SELECT s.form, s.name_id, n.form AS listed_form
FROM shared s
JOIN screening_names n ON n.version_id = $version_id AND n.name_id = s.name_id
WHERE s.shared >= CASE WHEN n.words <= 2 THEN 1 ELSE 2 END;
