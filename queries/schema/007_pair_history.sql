-- name: 007_pair_history
-- A cache the scans keep so an incremental scan need not re-read all history: the first
-- posting day of every (account, payee, initiator) in `transactions` (table
-- pair_history) and the facts scan/pair_facts.sql derives from those days
-- (pair_history_pairs, pair_history_initiators). Those three tables are made, and remade
-- whole, by queries/scan/pair_history_rebuild.sql and pair_facts_keep.sql (a remade table
-- joins ten times faster than one emptied with DELETE and refilled). It is derived
-- data: emptying pair_history_state makes the next scan rebuild all of it.

CREATE TABLE pair_history_state (
    max_file_id          BIGINT NOT NULL,   -- files up to this id are merged
    -- the last file that changed what was known on days already past (a row posted
    -- before other rows of its payee): incremental scans after it must be full ones
    last_rewrite_file_id BIGINT NOT NULL
);
