-- name: pair_facts_keep
-- finds: nothing; keeps temp tables pair_facts and initiator_facts (scan/pair_facts.sql
--   run over every payee) as tables pair_history_pairs and pair_history_initiators,
--   made anew. Each row also keeps the hash of its key (pair_key): an incremental scan
--   joins its rows with these tables by that one integer (scan/features_kept.sql), which
--   reads neither key's text; and its rows and the sum of their positive amounts
--   (charges, spend; and their latest day, last_day; later files' go to table
--   pair_history_added, made empty here), by which an incremental
--   scan picks the accounts whose whole history it reads (scan/account_charges.sql).
-- params: none.
-- returns: nothing.

CREATE OR REPLACE TABLE pair_history_pairs (
    account                VARCHAR NOT NULL,
    counterparty           VARCHAR NOT NULL,
    pair_first_day         INTEGER NOT NULL,
    payee_accounts_before  BIGINT NOT NULL,
    payee_first_day        INTEGER NOT NULL,
    pair_key               UBIGINT NOT NULL,         -- hash(account, counterparty)
    charges                BIGINT NOT NULL,          -- the pair's rows in `transactions`
    spend                  DECIMAL(38,2) NOT NULL,   -- the sum of their positive amounts
    last_day               INTEGER NOT NULL          -- and their latest day
);

INSERT INTO pair_history_pairs
SELECT account, counterparty, pair_first_day, payee_accounts_before, payee_first_day,
       hash(account, counterparty), charges, spend, last_day
FROM pair_facts;

CREATE OR REPLACE TABLE pair_history_initiators (
    initiator                  VARCHAR NOT NULL,
    counterparty               VARCHAR NOT NULL,
    initiator_payee_first_day  INTEGER NOT NULL,
    pair_key                   UBIGINT NOT NULL      -- hash(initiator, counterparty)
);

INSERT INTO pair_history_initiators
SELECT initiator, counterparty, initiator_payee_first_day, hash(initiator, counterparty)
FROM initiator_facts;

-- Rows that later files add to pairs already kept (scan/pair_facts_append.sql):
-- a pair's count (and spend) is its own plus the sum of its entries here, its last
-- day the latest of its own and theirs.
CREATE OR REPLACE TABLE pair_history_added (
    pair_key  UBIGINT NOT NULL,      -- hash(account, counterparty)
    charges   BIGINT NOT NULL,
    spend     DECIMAL(38,2) NOT NULL,
    last_day  INTEGER NOT NULL
);
