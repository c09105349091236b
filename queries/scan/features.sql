-- name: features
-- Finds: nothing; builds temp table `charges`, the one input every detector reads: each
--   row of temp table `ledger_rows` with what was known about its payee on that day.
--   Windows look backward only, so a detector run over `charges` sees, for each row,
--   exactly what a daily run on that day would see. First days always come from the
--   whole history (temp view `pair_firsts`: table pair_history, or computed from
--   transactions by scan/pair_firsts.sql), even when ledger_rows is only an incremental
--   scan's scope.
-- Parameters: none.
-- Returns (temp table `charges`): the ledger_rows columns plus pair_first_day,
--   payee_first_day, initiator_payee_first_day, and payee_accounts_before (accounts that
--   had charged the payee before this account first did).

CREATE OR REPLACE TEMP TABLE known_pairs AS   -- every pair of the payees in play, all history
SELECT account, counterparty, initiator, first_day
FROM pair_firsts
WHERE counterparty IN (SELECT DISTINCT counterparty FROM ledger_rows);

CREATE OR REPLACE TEMP TABLE pair_facts AS
WITH pairs AS (
    SELECT account, counterparty, min(first_day) AS pair_first_day
    FROM known_pairs GROUP BY account, counterparty
)
SELECT *,
    count(*) OVER (PARTITION BY counterparty ORDER BY pair_first_day
                   RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS payee_accounts_before,
    min(pair_first_day) OVER (PARTITION BY counterparty) AS payee_first_day
FROM pairs;

CREATE OR REPLACE TEMP TABLE initiator_facts AS
SELECT initiator, counterparty, min(first_day) AS initiator_payee_first_day
FROM known_pairs GROUP BY initiator, counterparty;

CREATE OR REPLACE TEMP TABLE charges AS
SELECT r.*, p.pair_first_day, p.payee_first_day, i.initiator_payee_first_day,
       p.payee_accounts_before
FROM ledger_rows r
JOIN pair_facts p USING (account, counterparty)
JOIN initiator_facts i USING (initiator, counterparty);

DROP TABLE known_pairs;
