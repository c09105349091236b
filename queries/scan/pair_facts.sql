-- name: pair_facts
-- finds: nothing; what was known of each payee in play, from every (account, payee,
--   initiator)'s first posting day in temp view `pair_firsts` (all history): each
--   account-payee pair's first day, the payee's first day and how many accounts had
--   charged the payee before this account first did; and each initiator-payee first day.
--   The payees in play are those in temp table (or view) `ledger_rows`.
-- params: none.
-- returns (temp tables): pair_facts (account, counterparty, pair_first_day, charges: the
--   pair's rows, payee_accounts_before, payee_first_day) and initiator_facts (initiator, counterparty,
--   initiator_payee_first_day).

CREATE OR REPLACE TEMP TABLE known_pairs AS   -- every pair of the payees in play, all history
SELECT account, counterparty, initiator, first_day, charges, spend, last_day
FROM pair_firsts
WHERE counterparty IN (SELECT DISTINCT counterparty FROM ledger_rows);

CREATE OR REPLACE TEMP TABLE pair_facts AS
WITH pairs AS (
    SELECT account, counterparty, min(first_day) AS pair_first_day, sum(charges) AS charges,
           sum(spend) AS spend, max(last_day) AS last_day
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

DROP TABLE known_pairs;
