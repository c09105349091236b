-- name: pair_firsts_merge
-- Finds: nothing; folds temp table `new_firsts` into pair_firsts: new pairs are added,
--   and a pair seen earlier than recorded (a late export) gets the earlier day.
-- Parameters: none.
-- Returns: nothing.

UPDATE pair_firsts p SET first_day = n.first_day
FROM new_firsts n
WHERE p.account = n.account AND p.counterparty = n.counterparty
  AND p.initiator = n.initiator AND n.first_day < p.first_day;

INSERT INTO pair_firsts
SELECT n.* FROM new_firsts n
ANTI JOIN pair_firsts p
  ON p.account = n.account AND p.counterparty = n.counterparty AND p.initiator = n.initiator;

DROP TABLE new_firsts;
