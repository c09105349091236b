-- name: 007_pair_history
-- A cache the scans keep so an incremental scan need not re-read all history: the first
-- posting day of every (account, payee, initiator) in `transactions`, with the highest
-- file id merged into it. It is derived data: deleting both tables is safe (the next
-- scan rebuilds them). Keys are coalesced as the scans see them ('(no payee)', the
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
