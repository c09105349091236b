-- name: pair_history_rebuild
-- finds: nothing; makes table pair_history anew from temp view pair_firsts
--   (scan/pair_firsts.sql: every transaction's (account, payee, initiator) first day).
-- params: none.
-- returns: nothing.

CREATE OR REPLACE TABLE pair_history (
    account       VARCHAR NOT NULL,
    counterparty  VARCHAR NOT NULL,
    initiator     VARCHAR NOT NULL,
    first_day     INTEGER NOT NULL,         -- days since 1970-01-01
    -- its rows when this row was made (here, or by a merge, scan/pair_history.sql): what
    -- later files add is kept per pair in pair_history_added, so only a rebuild, right
    -- after making them, reads these (scan/pair_facts.sql)
    charges       BIGINT NOT NULL,
    spend         DECIMAL(38,2) NOT NULL,   -- the sum of those rows' positive amounts
    last_day      INTEGER NOT NULL          -- and their latest day
);

INSERT INTO pair_history
SELECT account, counterparty, initiator, first_day, charges, spend, last_day
FROM pair_firsts;
