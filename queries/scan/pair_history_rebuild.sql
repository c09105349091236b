-- name: pair_history_rebuild
-- finds: nothing; makes table pair_history anew from temp view pair_firsts
--   (scan/pair_firsts.sql: every (account, payee, initiator)'s first day, rows and
--   positive money).
-- params: none.
-- returns: nothing.

CREATE OR REPLACE TABLE pair_history (
    account       VARCHAR NOT NULL,
    counterparty  VARCHAR NOT NULL,
    initiator     VARCHAR NOT NULL,
    first_day     INTEGER NOT NULL,         -- days since 1970-01-01
    charges       BIGINT NOT NULL,          -- its rows in `transactions`
    paid          DECIMAL(38,2) NOT NULL    -- the sum of their positive amounts
);

INSERT INTO pair_history
SELECT account, counterparty, initiator, first_day, charges, paid FROM pair_firsts;
