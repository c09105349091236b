-- name: pair_facts_keep
-- finds: nothing; keeps temp tables pair_facts and initiator_facts (scan/pair_facts.sql
--   run over every payee) as tables pair_history_pairs and pair_history_initiators,
--   made anew.
-- params: none.
-- returns: nothing.

CREATE OR REPLACE TABLE pair_history_pairs (
    account                VARCHAR NOT NULL,
    counterparty           VARCHAR NOT NULL,
    pair_first_day         INTEGER NOT NULL,
    payee_accounts_before  BIGINT NOT NULL,
    payee_first_day        INTEGER NOT NULL
);

INSERT INTO pair_history_pairs
SELECT account, counterparty, pair_first_day, payee_accounts_before, payee_first_day
FROM pair_facts;

CREATE OR REPLACE TABLE pair_history_initiators (
    initiator                  VARCHAR NOT NULL,
    counterparty               VARCHAR NOT NULL,
    initiator_payee_first_day  INTEGER NOT NULL
);

INSERT INTO pair_history_initiators
SELECT initiator, counterparty, initiator_payee_first_day FROM initiator_facts;
