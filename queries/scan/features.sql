-- name: features
-- finds: nothing; builds temp table `charges`, the one input every detector reads: each
--   row of temp table `ledger_rows` with what was known about its payee on that day.
--   Windows look backward only, so a detector run over `charges` sees, for each row,
--   exactly what a daily run on that day would see. First days always come from the
--   whole history (temp tables or views pair_facts and initiator_facts: from
--   scan/pair_facts.sql, or the facts table pair_history keeps), even when ledger_rows
--   is only an incremental scan's scope.
-- params: none.
-- returns (temp table `charges`): the ledger_rows columns plus pair_first_day,
--   payee_first_day, initiator_payee_first_day, and payee_accounts_before (accounts that
--   had charged the payee before this account first did).

CREATE OR REPLACE TEMP TABLE charges AS
SELECT r.*, p.pair_first_day, p.payee_first_day, p.payee_accounts_before
FROM ledger_rows r
JOIN pair_facts p USING (account, counterparty);
