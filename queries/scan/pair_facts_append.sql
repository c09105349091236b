-- name: pair_facts_append
-- finds: nothing; adds to the kept facts (pair_history_pairs, pair_history_initiators)
--   the pairs first seen in the files just merged into pair_history (temp table
--   new_pairs), when those files changed nothing already known (temp table rewrites says
--   so): every existing pair of a payee then started on or before each new pair of it,
--   so existing facts stand and a new pair's earlier accounts are the existing ones
--   that started strictly before it plus the new ones that did. What existed is read
--   from temp table old_pairs (pair_history's rows of those payees before the merge),
--   whose first days are those the kept facts were made from. Each row keeps the hash
--   of its key, its rows, their spend and latest day, as scan/pair_facts_keep.sql does;
--   for the pairs that existed, the new files' go to table pair_history_added.
-- params: none.
-- returns: nothing.

INSERT INTO pair_history_pairs
WITH fresh AS (
    SELECT account, counterparty, min(first_day) AS pair_first_day, sum(charges) AS charges,
           sum(spend) AS spend, max(last_day) AS last_day
    FROM new_pairs n
    WHERE NOT EXISTS (SELECT 1 FROM old_pairs k
                      WHERE k.account = n.account AND k.counterparty = n.counterparty)
    GROUP BY account, counterparty
),
known AS (           -- the existing pairs of those payees, as pair_history_pairs has them
    SELECT counterparty, min(first_day) AS pair_first_day, min(first_day) AS payee_first_day
    FROM old_pairs
    WHERE counterparty IN (SELECT counterparty FROM fresh)
    GROUP BY account, counterparty
),
before AS (
    SELECT f.account, f.counterparty, count(k.counterparty) AS accounts
    FROM fresh f LEFT JOIN known k
      ON k.counterparty = f.counterparty AND k.pair_first_day < f.pair_first_day
    GROUP BY f.account, f.counterparty
),
payees AS (
    SELECT counterparty, min(payee_first_day) AS payee_first_day FROM known GROUP BY counterparty
)
SELECT f.account, f.counterparty, f.pair_first_day,
       b.accounts + count(*) OVER (PARTITION BY f.counterparty ORDER BY f.pair_first_day
                                   RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
       coalesce(p.payee_first_day, min(f.pair_first_day) OVER (PARTITION BY f.counterparty)),
       hash(f.account, f.counterparty), f.charges, f.spend, f.last_day
FROM fresh f
JOIN before b ON b.account = f.account AND b.counterparty = f.counterparty
LEFT JOIN payees p ON p.counterparty = f.counterparty;

-- The pairs that existed: the new files' rows are added in a table of their own
-- (an UPDATE of the kept pairs, scattered through them, cost 0.25 s and its commit up to
-- a second of CPU at 10M rows).
INSERT INTO pair_history_added
SELECT hash(account, counterparty), sum(charges), sum(spend), max(last_day) FROM new_pairs n
WHERE EXISTS (SELECT 1 FROM old_pairs k
              WHERE k.account = n.account AND k.counterparty = n.counterparty)
GROUP BY account, counterparty;

INSERT INTO pair_history_initiators
SELECT initiator, counterparty, min(first_day), hash(initiator, counterparty)
FROM new_pairs n
WHERE NOT EXISTS (SELECT 1 FROM old_pairs k
                  WHERE k.initiator = n.initiator AND k.counterparty = n.counterparty)
GROUP BY initiator, counterparty;
