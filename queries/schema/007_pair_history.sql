-- name: 007_pair_history
-- A cache the scans keep so an incremental scan need not re-read all history: the first
-- posting day of every (account, payee, initiator) in `transactions`, with the highest
-- file id merged into it, and the facts scan/pair_facts.sql derives from those days
-- (pair_history_pairs, pair_history_initiators). It is derived data: emptying
-- pair_history_state makes the next scan rebuild all of it. Keys are coalesced as the scans see them ('(no payee)', the
-- account as initiator).

CREATE TABLE pair_history (
    account       VARCHAR NOT NULL,
    counterparty  VARCHAR NOT NULL,
    initiator     VARCHAR NOT NULL,
    first_day     INTEGER NOT NULL          -- days since 1970-01-01
);

CREATE TABLE pair_history_state (
    max_file_id          BIGINT NOT NULL,   -- files up to this id are merged
    -- the last file that changed what was known on days already past (a row posted
    -- before other rows of its payee): incremental scans after it must be full ones
    last_rewrite_file_id BIGINT NOT NULL
);

CREATE TABLE pair_history_pairs (           -- scan/pair_facts.sql's pair_facts, all payees
    account                VARCHAR NOT NULL,
    counterparty           VARCHAR NOT NULL,
    pair_first_day         INTEGER NOT NULL,
    payee_accounts_before  BIGINT NOT NULL,
    payee_first_day        INTEGER NOT NULL
);

CREATE TABLE pair_history_initiators (      -- and its initiator_facts
    initiator                  VARCHAR NOT NULL,
    counterparty               VARCHAR NOT NULL,
    initiator_payee_first_day  INTEGER NOT NULL
);
