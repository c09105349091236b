-- name: similar_payees
-- finds: Fuzzy duplicate payees: pairs of different payee names that are nearly the same
--   (Jaro-Winkler similarity of the lower-cased, trimmed names, with the Levenshtein edit
--   distance), e.g. "Acme Hosting" and "Acme Hostng". Both names are in the ledger. To stay
--   fast on tens of thousands of payees only names that start with the same character and
--   differ in length by at most a quarter (or 3 characters) are compared.
-- params:
--   $min_similarity  DOUBLE   default 0.92  Jaro-Winkler similarity needed (0 to 1)
--   $min_spend       DECIMAL  default 0     each payee's total spend at least this
--   $limit           INTEGER  default 500   how many pairs
-- returns: payee_a, payee_b, similarity, edit_distance, charges_a, spend_a, charges_b, spend_b.

WITH payees AS (
    SELECT counterparty, lower(trim(counterparty)) AS key, count(*) AS charges, sum(amount) AS spend
    FROM transactions
    WHERE amount > 0 AND counterparty IS NOT NULL
    GROUP BY counterparty
    HAVING sum(amount) >= $min_spend
)
SELECT a.counterparty AS payee_a, b.counterparty AS payee_b,
       round(jaro_winkler_similarity(a.key, b.key), 4) AS similarity,
       levenshtein(a.key, b.key) AS edit_distance,
       a.charges AS charges_a, a.spend AS spend_a, b.charges AS charges_b, b.spend AS spend_b
FROM payees a JOIN payees b ON left(a.key, 1) = left(b.key, 1) AND a.counterparty < b.counterparty
WHERE abs(length(a.key) - length(b.key)) <= greatest(3, least(length(a.key), length(b.key)) / 4)
  AND jaro_winkler_similarity(a.key, b.key) >= $min_similarity
ORDER BY similarity DESC, payee_a, payee_b
LIMIT $limit;
